"""BDAT / CHUNKING (RFC 3030) over a raw socket: chunk content is kept verbatim."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RawSMTP, ServerTestCase, assert_serves, assert_stored, message, token  # noqa

ALICE = 'alice@example.test'
BOB = 'bob@example.test'


class SmtpChunking(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB])

    def start(self, rcpts=(ALICE,)):
        c = RawSMTP(self.srv.smtp_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.has_ext('CHUNKING'), 'CHUNKING not advertised')
        self.assertEqual(c.cmd('MAIL FROM:<chunker@remote.test>').code, 250)
        for r in rcpts:
            self.assertEqual(c.cmd('RCPT TO:<%s>' % r).code, 250)
        return c

    def bdat(self, c, chunk, last=False):
        c.send(b'BDAT %d%s\r\n' % (len(chunk), b' LAST' if last else b'') + chunk)
        return c.reply()

    def test_several_chunks_then_last(self):
        t = token()
        # Bytes that would end or be unstuffed in DATA must be kept verbatim in BDAT.
        body = (b'line one\r\n'
                b'.\r\n'
                b'..\r\n'
                b'.leading dot\r\n'
                b'\r\n.\r\n'
                b'QUIT\r\n'
                b'marker ' + t.encode() + b'\r\n')
        msg = message(t, body=body)
        chunks = [msg[:37], msg[37:120], msg[120:150], msg[150:]]
        c = self.start()
        for ch in chunks[:-1]:
            r = self.bdat(c, ch)
            self.assertEqual(r.code, 250, r)
        r = self.bdat(c, chunks[-1], last=True)
        self.assertEqual(r.code, 250, r)
        self.assertEqual(c.cmd('NOOP').code, 250)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'chunker@remote.test', msg)

    def test_bdat_zero_last(self):
        t = token()
        msg = message(t, body=b'.\r\nend with BDAT 0 LAST ' + t.encode() + b'\r\n')
        c = self.start(rcpts=(ALICE, BOB))
        self.assertEqual(self.bdat(c, msg[:50]).code, 250)
        self.assertEqual(self.bdat(c, msg[50:]).code, 250)
        r = self.bdat(c, b'', last=True)
        self.assertEqual(r.code, 250, r)
        for rc in (ALICE, BOB):
            found = self.srv.find(rc, t)
            self.assertEqual(len(found), 1, rc)
            assert_stored(found[0], 'chunker@remote.test', msg)

    def test_single_last_chunk_pipelined(self):
        # Client sends BDAT commands and chunks back to back without waiting.
        t = token()
        msg = message(t)
        c = self.start()
        c.send(b'BDAT 10\r\n' + msg[:10] + b'BDAT %d LAST\r\n' % (len(msg) - 10) + msg[10:]
               + b'NOOP\r\n')
        r1, r2, r3 = c.reply(), c.reply(), c.reply()
        self.assertEqual((r1.code, r2.code, r3.code), (250, 250, 250), (r1, r2, r3))
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'chunker@remote.test', msg)

    def test_chunk_in_one_byte_writes(self):
        import time
        t = token()
        msg = message(t, body=b'\r\n.\r\nslow ' + t.encode() + b'\r\n')
        c = self.start()
        data = b'BDAT %d LAST\r\n' % len(msg) + msg
        for i in range(len(data)):
            c.send(data[i:i + 1])
            if i % 16 == 0:
                time.sleep(0.001)
        r = c.reply()
        self.assertEqual(r.code, 250, r)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'chunker@remote.test', msg)

    def test_bdat_without_mail_discards_chunk(self):
        # RFC 3030: the chunk is read even when BDAT is refused; its bytes are never commands.
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            payload = b'MAIL FROM:<evil@remote.test>\r\n'
            c.send(b'BDAT %d\r\n' % len(payload) + payload)
            r = c.reply()
            self.assertEqual(r.code, 503, r)
            r = c.cmd('RCPT TO:<%s>' % ALICE)
            self.assertEqual(r.code, 503, 'chunk content was executed as a command: RCPT got %r'
                             % r)
            self.assertEqual(c.cmd('NOOP').code, 250)
        assert_serves(self, self.srv)

    def test_data_after_bdat_refused(self):
        c = self.start()
        self.assertEqual(self.bdat(c, b'Subject: x\r\n').code, 250)
        r = c.cmd('DATA')
        self.assertEqual(r.code, 503, r)
        self.assertEqual(c.cmd('RSET').code, 250)
        assert_serves(self, self.srv)

    def test_bdat_bad_size_argument(self):
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<a@remote.test>').code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
            r = c.cmd('BDAT notanumber')
            self.assertEqual(r.code, 501, r)
        assert_serves(self, self.srv)


    def test_last_chunk_without_final_crlf_kept_verbatim(self):
        t = token()
        msg = message(t)[:-2]        # ends in "marker T..." without CRLF
        c = self.start()
        r = self.bdat(c, msg, last=True)
        self.assertEqual(r.code, 250, r)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'chunker@remote.test', msg)

if __name__ == '__main__':
    unittest.main()
