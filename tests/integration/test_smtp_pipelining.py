"""PIPELINING (RFC 2920): commands sent in one write get their replies in order."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RawSMTP, ServerTestCase, assert_stored, dot_stuff, message, token  # noqa

ALICE = 'alice@example.test'
BOB = 'bob@example.test'


class SmtpPipelining(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB])

    def client(self):
        c = RawSMTP(self.srv.smtp_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.has_ext('PIPELINING'), 'PIPELINING not advertised')
        return c

    def test_mail_rcpt_rcpt_data_in_one_write(self):
        t = token()
        msg = message(t)
        c = self.client()
        c.send(b'MAIL FROM:<pipe@remote.test>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n'
               % (ALICE.encode(), BOB.encode()))
        codes = [c.reply().code for _ in range(4)]
        self.assertEqual(codes, [250, 250, 250, 354])
        c.send(dot_stuff(msg) + b'.\r\n')
        r = c.reply()
        self.assertEqual(r.code, 250, r)
        for rc in (ALICE, BOB):
            found = self.srv.find(rc, t)
            self.assertEqual(len(found), 1, rc)
            assert_stored(found[0], 'pipe@remote.test', msg)

    def test_rejected_recipient_in_pipeline(self):
        t = token()
        msg = message(t)
        c = self.client()
        c.send(b'MAIL FROM:<pipe@remote.test>\r\nRCPT TO:<%s>\r\nRCPT TO:<nosuchuser@example.test>'
               b'\r\nRCPT TO:<%s>\r\nDATA\r\n' % (ALICE.encode(), BOB.encode()))
        replies = [c.reply() for _ in range(5)]
        self.assertEqual([r.code for r in replies], [250, 250, 550, 250, 354], replies)
        self.assertEqual(replies[2].enhanced, '5.1.1', replies[2])
        c.send(dot_stuff(msg) + b'.\r\n')
        self.assertEqual(c.reply().code, 250)
        for rc in (ALICE, BOB):
            self.assertEqual(len(self.srv.find(rc, t)), 1, rc)

    def test_next_transaction_pipelined_after_end_of_data(self):
        t1, t2 = token(), token()
        m1, m2 = message(t1), message(t2)
        c = self.client()
        c.send(b'MAIL FROM:<one@remote.test>\r\nRCPT TO:<%s>\r\nDATA\r\n' % ALICE.encode())
        self.assertEqual([c.reply().code for _ in range(3)], [250, 250, 354])
        # End of message 1 and the whole command group of message 2 in one write.
        c.send(dot_stuff(m1) + b'.\r\nMAIL FROM:<two@remote.test>\r\nRCPT TO:<%s>\r\nDATA\r\n'
               % BOB.encode())
        self.assertEqual([c.reply().code for _ in range(4)], [250, 250, 250, 354])
        c.send(dot_stuff(m2) + b'.\r\nRSET\r\nNOOP\r\nQUIT\r\n')
        self.assertEqual([c.reply().code for _ in range(4)], [250, 250, 250, 221])
        self.assertTrue(c.wait_closed(5), 'connection not closed after QUIT')
        f1, f2 = self.srv.find(ALICE, t1), self.srv.find(BOB, t2)
        self.assertEqual((len(f1), len(f2)), (1, 1))
        assert_stored(f1[0], 'one@remote.test', m1)
        assert_stored(f2[0], 'two@remote.test', m2)
        self.assertEqual(self.srv.find(ALICE, t2) + self.srv.find(BOB, t1), [])

    def test_many_commands_in_one_write(self):
        c = self.client()
        c.send(b'NOOP\r\n' * 50)
        codes = [c.reply().code for _ in range(50)]
        self.assertEqual(codes, [250] * 50)
        self.assertEqual(c.cmd('QUIT').code, 221)


if __name__ == '__main__':
    unittest.main()
