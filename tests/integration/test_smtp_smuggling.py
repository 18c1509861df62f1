"""SMTP smuggling: a bare LF or bare CR inside DATA ends the session with 521 5.5.2, and no
smuggled message is ever stored (https://www.postfix.org/smtp-smuggling.html)."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Closed, RawSMTP, ServerTestCase, assert_serves, assert_stored,  # noqa
                     message, token)

ALICE = 'alice@example.test'
VICTIM = 'victim@example.test'

# (name, fake end-of-data sequence). Each is followed by a complete smuggled transaction.
VARIANTS = [
    ('lf_dot_lf', b'\n.\n'),
    ('lf_dot_crlf', b'\n.\r\n'),
    ('crlf_dot_lf', b'\r\n.\n'),
    ('cr_dot_cr', b'\r.\r'),
    ('crlf_dot_cr', b'\r\n.\r'),
    ('cr_dot_crlf', b'\r.\r\n'),
    ('lf_dot_cr', b'\n.\r'),
    ('cr_dot_lf', b'\r.\n'),
]


class SmtpSmuggling(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, VICTIM])

    def open_data(self):
        c = RawSMTP(self.srv.smtp_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertEqual(c.cmd('MAIL FROM:<attacker@remote.test>').code, 250)
        self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
        self.assertEqual(c.cmd('DATA').code, 354)
        return c

    def expect_521_and_close(self, c):
        """The first reply must be 521 5.5.2 and then the connection must close, with no
        reply to anything smuggled after it."""
        try:
            r = c.reply()
        except Closed:
            self.fail('connection closed without the 521 5.5.2 reply')
        self.assertEqual((r.code, r.enhanced), (521, '5.5.2'), r)
        closed = c.wait_closed(5)
        self.assertEqual(c.buf, b'', 'server replied to smuggled commands: %r' % c.buf)
        self.assertTrue(closed, 'connection not closed after 521')

    def assert_nothing_stored(self, *markers):
        for m in markers:
            self.assertEqual(self.srv.find_anywhere(m), {}, 'stored: %s' % m)

    def smuggle(self, fake_end):
        t1, t2 = token(), token()
        first = (b'From: <attacker@remote.test>\r\nTo: <alice@example.test>\r\n'
                 b'Subject: first ' + t1.encode() + b'\r\n\r\nhello ' + t1.encode())
        smuggled = (b'MAIL FROM:<ceo@example.test>\r\n'
                    b'RCPT TO:<' + VICTIM.encode() + b'>\r\n'
                    b'DATA\r\n'
                    b'From: <ceo@example.test>\r\nSubject: smuggled ' + t2.encode() + b'\r\n\r\n'
                    b'pay the invoice ' + t2.encode() + b'\r\n'
                    b'.\r\n')
        c = self.open_data()
        c.send(first + fake_end + smuggled)
        self.expect_521_and_close(c)
        time.sleep(0.2)
        self.assert_nothing_stored(t1, t2)
        assert_serves(self, self.srv)

    def test_bare_lf_answered_at_once(self):
        # "nothing after it is read": the reply must not wait for an end of data.
        t = token()
        c = self.open_data()
        c.send(b'Subject: ' + t.encode() + b'\r\n\r\nline with bare LF\nmore')
        self.expect_521_and_close(c)
        self.assert_nothing_stored(t)

    def test_bare_cr_in_a_line(self):
        t = token()
        c = self.open_data()
        c.send(b'Subject: ' + t.encode() + b'\r\n\r\nline with bare CR\rmore\r\n.\r\n')
        self.expect_521_and_close(c)
        self.assert_nothing_stored(t)

    def test_bare_lf_in_header(self):
        t = token()
        c = self.open_data()
        c.send(b'Subject: ' + t.encode() + b'\nX-Other: y\r\n\r\nbody\r\n.\r\n')
        self.expect_521_and_close(c)
        self.assert_nothing_stored(t)

    def test_smuggle_split_across_writes(self):
        # The bare LF arrives in a separate TCP segment from what precedes it.
        t1, t2 = token(), token()
        c = self.open_data()
        c.send(b'Subject: ' + t1.encode() + b'\r\n\r\nhello\r')
        time.sleep(0.2)
        c.send(b'\n')
        time.sleep(0.2)
        c.send(b'.\n')
        time.sleep(0.1)
        try:
            c.send(b'MAIL FROM:<ceo@example.test>\r\nRCPT TO:<' + VICTIM.encode() +
                   b'>\r\nDATA\r\nSubject: ' + t2.encode() + b'\r\n\r\nx\r\n.\r\n')
        except OSError:
            pass  # already closed: fine
        self.expect_521_and_close(c)
        self.assert_nothing_stored(t1, t2)

    def test_legit_crlf_split_at_every_byte(self):
        # A correct message whose CR and LF arrive in separate segments is not "bare".
        t = token()
        msg = message(t, body=b'..\r\n.x\r\n\r\nmarker ' + t.encode() + b'\r\n')
        wire = msg.replace(b'\r\n.', b'\r\n..') + b'.\r\n'
        c = self.open_data()
        for i in range(len(wire)):
            c.send(wire[i:i + 1])
            if wire[i:i + 1] in (b'\r', b'.'):
                time.sleep(0.01)
        r = c.reply()
        self.assertEqual(r.code, 250, r)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'attacker@remote.test', msg)

    def test_legit_dot_lines_unstuffed(self):
        t = token()
        wire_body = b'..\r\n...\r\n.x\r\n..y\r\nend ' + t.encode() + b'\r\n'
        stored_body = b'.\r\n..\r\nx\r\n.y\r\nend ' + t.encode() + b'\r\n'
        head = (b'From: <attacker@remote.test>\r\nSubject: dots ' + t.encode() + b'\r\n\r\n')
        c = self.open_data()
        c.send(head + wire_body + b'.\r\n')
        r = c.reply()
        self.assertEqual(r.code, 250, r)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'attacker@remote.test', head + stored_body)

    def test_nul_dot_is_not_end_of_data(self):
        # "\r\n.\0\r\n" is not an end of data; whatever the server does with NUL, the text
        # after it must not run as commands.
        t1, t2 = token(), token()
        c = self.open_data()
        c.send(b'Subject: ' + t1.encode() + b'\r\n\r\nhello\r\n.\x00\r\n'
               b'MAIL FROM:<ceo@example.test>\r\nRCPT TO:<' + VICTIM.encode() + b'>\r\n'
               b'DATA\r\nSubject: ' + t2.encode() + b'\r\n\r\nx\r\n.\r\n')
        r = c.reply()
        # Either the whole thing is one message (250) or it is refused; never several replies.
        self.assertIn(r.code // 100, (2, 5), r)
        c.wait_closed(1)
        self.assertEqual(c.buf, b'', 'server replied to smuggled commands: %r' % c.buf)
        self.assertEqual(self.srv.find(VICTIM, t2), [], 'smuggled message delivered')
        assert_serves(self, self.srv)

    def test_bdat_keeps_lone_dot_and_bare_lf_is_not_command(self):
        # In BDAT the length rules; a lone "." line and what follows are content.
        t1, t2 = token(), token()
        content = (b'From: <attacker@remote.test>\r\nSubject: bdat ' + t1.encode() + b'\r\n\r\n'
                   b'before\r\n.\r\n'
                   b'MAIL FROM:<ceo@example.test>\r\nRCPT TO:<' + VICTIM.encode() + b'>\r\n'
                   b'DATA\r\nSubject: ' + t2.encode() + b'\r\n\r\nx\r\n.\r\nafter\r\n')
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<attacker@remote.test>').code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
            c.send(b'BDAT %d LAST\r\n' % len(content) + content)
            r = c.reply()
            self.assertEqual(r.code, 250, r)
            self.assertEqual(c.cmd('NOOP').code, 250)
        found = self.srv.find(ALICE, t1)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'attacker@remote.test', content)
        self.assertEqual(self.srv.find(VICTIM, t2), [])


def _make(fake_end):
    return lambda self: self.smuggle(fake_end)


for _name, _seq in VARIANTS:
    setattr(SmtpSmuggling, 'test_smuggle_' + _name, _make(_seq))


if __name__ == '__main__':
    unittest.main()
