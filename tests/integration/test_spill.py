"""Memory held for messages being received (docs/configuration.md): past spill-threshold an SMTP
DATA/BDAT message or an IMAP APPEND goes to an unlinked temporary file and is stored byte for
byte; over max-pending-memory new transactions are told to come back later (452 4.3.1,
NO [LIMIT]) while the ones already receiving finish."""

import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RawSMTP, ServerTestCase, dot_stuff, message, send_raw_data, token  # noqa
from imap_common import RawIMAP, assert_status, fetches  # noqa: E402

ALICE = 'alice@example.test'


def big_body(marker, size):
    """~size bytes of CRLF lines (some starting with '.', some long), with the marker."""
    rnd = random.Random(marker)
    lines = [b'marker ' + marker.encode()]
    total = 0
    while total < size:
        n = rnd.randint(0, 900)
        line = bytes(rnd.choice(b'abcdefghijklmnopqrstuvwxyz .,-0123456789') for _ in range(n))
        if rnd.random() < 0.05:
            line = b'.' + line
        lines.append(line)
        total += len(line) + 2
    return b'\r\n'.join(lines) + b'\r\n'


class SmtpSpill(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'spill-threshold': 65536})

    def test_5mib_data_message_stored_intact(self):
        marker = token()
        msg = message(marker, body=big_body(marker, 5 << 20))
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            r = send_raw_data(c, 'sender@remote.test', [ALICE], msg)
            self.assertEqual(r.code, 250, r)
        stored = self.srv.find(ALICE, marker)
        self.assertEqual(len(stored), 1)
        self.assertTrue(stored[0].endswith(msg), 'stored message differs from the one sent')
        self.assertIn('spilled=yes', self.srv.log_text())

    def test_bdat_message_stored_intact(self):
        marker = token()
        msg = message(marker, body=big_body(marker, 600000))
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<sender@remote.test>').code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
            step = 100000
            for i in range(0, len(msg), step):
                part = msg[i:i + step]
                last = i + step >= len(msg)
                c.send(b'BDAT %d%s\r\n' % (len(part), b' LAST' if last else b'') + part)
                r = c.reply()
                self.assertEqual(r.code, 250, r)
        stored = self.srv.find(ALICE, marker)
        self.assertEqual(len(stored), 1)
        self.assertTrue(stored[0].endswith(msg))

    def test_small_message_still_in_memory(self):
        marker = token()
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            r = send_raw_data(c, 'sender@remote.test', [ALICE], message(marker))
            self.assertEqual(r.code, 250, r)
        line = [l for l in self.srv.log_text().splitlines() if 'event=message' in l][-1]
        self.assertIn('spilled=no', line)


class ImapAppendSpill(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'spill-threshold': 65536})

    def test_5mib_append_fetched_byte_identical(self):
        marker = token()
        msg = message(marker, body=big_body(marker, 5 << 20))
        with RawIMAP(self.srv.imap_port) as c:
            c.login(ALICE)
            r = c.command('APPEND INBOX {%d}' % len(msg), msg, '')
            assert_status(self, r, 'OK')
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            r = c.cmd('UID FETCH 1:* BODY.PEEK[]')
            assert_status(self, r, 'OK')
            bodies = [lit for u in r.untagged for lit in u.literals]
            self.assertIn(msg, bodies, 'FETCH did not return the appended bytes')
        self.assertIn('event=append conn=', self.srv.log_text())
        self.assertIn('size=%d spilled=yes' % len(msg), self.srv.log_text())

    def test_bare_lf_append_fixed_across_pieces(self):
        marker = token()
        msg = message(marker, body=big_body(marker, 200000))
        lf = msg.replace(b'\r\n', b'\n')
        with RawIMAP(self.srv.imap_port) as c:
            c.login(ALICE)
            r = c.command('APPEND INBOX {%d}' % len(lf), lf, '')
            assert_status(self, r, 'OK')
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            r = c.cmd('UID FETCH 1:* BODY.PEEK[]')
            bodies = [lit for u in r.untagged for lit in u.literals]
            self.assertIn(msg, bodies)


    def test_nul_in_large_literal_refused(self):
        msg = message(token(), body=b'a\x00b\r\n' * 1000)
        with RawIMAP(self.srv.imap_port) as c:
            c.login(ALICE)
            r = c.command('APPEND INBOX {%d}' % len(msg), msg, '')
            assert_status(self, r, 'BAD')
            self.assertIn('NUL byte', r.text)
            assert_status(self, c.cmd('NOOP'), 'OK')


class PendingMemoryCap(ServerTestCase, unittest.TestCase):
    # Messages stay in memory (large threshold); all sessions may hold 64 KiB together.
    SERVER_ARGS = dict(accounts=[ALICE], config={'max-pending-memory': 65536,
                                                 'spill-threshold': 10 << 20})

    def test_new_transactions_wait_while_memory_is_full(self):
        marker = token()
        msg = message(marker, body=big_body(marker, 300000))
        wire = dot_stuff(msg)
        with RawSMTP(self.srv.smtp_port) as a, RawSMTP(self.srv.smtp_port) as b, \
                RawIMAP(self.srv.imap_port) as im:
            a.ehlo()
            b.ehlo()
            im.login(ALICE)
            self.assertEqual(a.cmd('MAIL FROM:<sender@remote.test>').code, 250)
            self.assertEqual(a.cmd('RCPT TO:<%s>' % ALICE).code, 250)
            self.assertEqual(a.cmd('DATA').code, 354)
            a.send(wire[:200000])  # A is receiving: 200 KB held, the message unfinished
            deadline = time.monotonic() + 10
            while True:
                r = b.cmd('MAIL FROM:<other@remote.test>')
                if r.code != 250 or time.monotonic() > deadline:
                    break
                b.cmd('RSET')
                time.sleep(0.1)
            self.assertEqual(r.code, 452, r)
            self.assertEqual(r.enhanced, '4.3.1')
            self.assertIn('busy receiving other mail', r.text)
            r = im.command('APPEND INBOX {5000}', b'x' * 5000, '')
            assert_status(self, r, 'NO', 'LIMIT')
            self.assertIn('busy receiving other mail', r.text)
            # The session already receiving finishes, and then the others may start.
            a.send(wire[200000:] + b'.\r\n')
            self.assertEqual(a.reply().code, 250)
            r = b.cmd('MAIL FROM:<other@remote.test>')
            self.assertEqual(r.code, 250, r)
            self.assertEqual(b.cmd('RSET').code, 250)
        self.assertEqual(len(self.srv.find(ALICE, marker)), 1)


if __name__ == '__main__':
    unittest.main()
