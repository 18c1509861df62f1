"""Every limit and reply of docs/cli.md: each is enforced, answered precisely, and the server
keeps serving afterwards."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Closed, RawSMTP, ServerTestCase, assert_serves, assert_stored,  # noqa
                     dot_stuff, message, token)

ALICE = 'alice@example.test'
RCPTS = ['r1@example.test', 'r2@example.test', 'r3@example.test', 'r4@example.test']


def padding_body(t, size):
    line = b'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n'
    body = b'marker ' + t.encode() + b'\r\n'
    while len(body) + len(line) <= size:
        body += line
    return body


class MessageLimits(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE] + RCPTS,
                       config={'max-message-size': 10000, 'max-text-line': 1000,
                               'max-header-size': 4096, 'max-recipients': 3})

    def client(self):
        c = RawSMTP(self.srv.smtp_port)
        self.addCleanup(c.close)
        c.ehlo()
        return c

    def transaction(self, c, rcpts=(ALICE,), mail_params=''):
        self.assertEqual(c.cmd('MAIL FROM:<lim@remote.test>' + mail_params).code, 250)
        for r in rcpts:
            self.assertEqual(c.cmd('RCPT TO:<%s>' % r).code, 250)
        r = c.cmd('DATA')
        self.assertEqual(r.code, 354, r)

    # ---- size ----
    def test_ehlo_advertises_configured_size(self):
        c = self.client()
        self.assertIn('SIZE 10000', c.extensions)

    def test_size_parameter_over_limit_552_5_3_4(self):
        c = self.client()
        r = c.cmd('MAIL FROM:<lim@remote.test> SIZE=10001')
        self.assertEqual((r.code, r.enhanced), (552, '5.3.4'), r)
        r = c.cmd('MAIL FROM:<lim@remote.test> SIZE=5000')
        self.assertEqual(r.code, 250, 'session unusable after SIZE refusal: %r' % r)
        assert_serves(self, self.srv)

    def test_data_over_limit_552_5_3_4(self):
        t = token()
        msg = message(t, body=padding_body(t, 20000))
        c = self.client()
        self.transaction(c)
        c.send(dot_stuff(msg) + b'.\r\n')
        r = c.reply()
        self.assertEqual((r.code, r.enhanced), (552, '5.3.4'), r)
        self.assertEqual(c.cmd('NOOP').code, 250, 'session not usable after 552')
        self.assertEqual(self.srv.find(ALICE, t), [], 'too-big message stored')
        # The same session can still deliver a normal message.
        t2 = token()
        self.transaction(c)
        c.send(dot_stuff(message(t2)) + b'.\r\n')
        self.assertEqual(c.reply().code, 250)
        self.assertEqual(len(self.srv.find(ALICE, t2)), 1)

    def test_message_under_limit_accepted(self):
        t = token()
        msg = message(t, body=padding_body(t, 8000))
        c = self.client()
        self.transaction(c)
        c.send(dot_stuff(msg) + b'.\r\n')
        r = c.reply()
        self.assertEqual(r.code, 250, r)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'lim@remote.test', msg)

    def test_bdat_over_limit_552_5_3_4(self):
        t = token()
        msg = message(t, body=padding_body(t, 20000))
        c = self.client()
        self.assertEqual(c.cmd('MAIL FROM:<lim@remote.test>').code, 250)
        self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
        c.send(b'BDAT %d LAST\r\n' % len(msg) + msg)
        r = c.reply()
        self.assertEqual((r.code, r.enhanced), (552, '5.3.4'), r)
        self.assertEqual(c.cmd('NOOP').code, 250, 'chunk bytes not consumed after 552')
        self.assertEqual(self.srv.find(ALICE, t), [])

    # ---- recipients ----
    def test_too_many_recipients_452_4_5_3(self):
        t = token()
        msg = message(t)
        c = self.client()
        self.assertEqual(c.cmd('MAIL FROM:<lim@remote.test>').code, 250)
        for rc in RCPTS[:3]:
            self.assertEqual(c.cmd('RCPT TO:<%s>' % rc).code, 250)
        r = c.cmd('RCPT TO:<%s>' % RCPTS[3])
        self.assertEqual((r.code, r.enhanced), (452, '4.5.3'), r)
        self.assertEqual(c.cmd('DATA').code, 354)
        c.send(dot_stuff(msg) + b'.\r\n')
        self.assertEqual(c.reply().code, 250)
        for rc in RCPTS[:3]:
            found = self.srv.find(rc, t)
            self.assertEqual(len(found), 1, rc)
            assert_stored(found[0], 'lim@remote.test', msg)
        self.assertEqual(self.srv.find(RCPTS[3], t), [])

    # ---- command lines ----
    def test_command_line_too_long_500_5_5_2(self):
        c = self.client()
        r = c.cmd('NOOP ' + 'x' * 3000)
        self.assertEqual((r.code, r.enhanced), (500, '5.5.2'), r)
        r = c.cmd('NOOP')
        self.assertEqual(r.code, 250, 'session did not continue: %r' % r)
        assert_serves(self, self.srv)

    def test_command_line_limit_boundary(self):
        c = self.client()
        line = b'NOOP ' + b'y' * (2048 - 7)           # 2048 bytes with CRLF: allowed
        self.assertEqual(len(line) + 2, 2048)
        r = c.cmd(line)
        self.assertEqual(r.code, 250, '2048-byte command line refused: %r' % r)
        r = c.cmd(line + b'y')                        # 2049: too long
        self.assertEqual((r.code, r.enhanced), (500, '5.5.2'), r)
        self.assertEqual(c.cmd('NOOP').code, 250)

    def test_huge_line_answered_once(self):
        c = self.client()
        c.send(b'A' * 200000 + b'\r\n')
        r = c.reply()
        self.assertEqual((r.code, r.enhanced), (500, '5.5.2'), r)
        r = c.cmd('NOOP')
        self.assertEqual(r.code, 250, 'more than one reply for one long line, or session '
                                      'broken: %r' % r)
        assert_serves(self, self.srv)

    # ---- DATA lines and headers ----
    def test_text_line_too_long_500_5_5_2(self):
        t = token()
        ok = message(t, body=b'marker ' + t.encode() + b' ok\r\n' + b'o' * 900 + b'\r\n')
        c = self.client()
        self.transaction(c)
        c.send(dot_stuff(ok) + b'.\r\n')
        self.assertEqual(c.reply().code, 250, '900-byte text line refused')
        t2 = token()
        bad = message(t2, body=b'z' * 2000 + b'\r\nmarker ' + t2.encode() + b'\r\n')
        self.transaction(c)
        c.send(dot_stuff(bad) + b'.\r\n')
        r = c.reply()
        self.assertEqual((r.code, r.enhanced), (500, '5.5.2'), r)
        self.assertEqual(c.cmd('NOOP').code, 250)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'lim@remote.test', ok)
        self.assertEqual(self.srv.find(ALICE, t2), [], 'message with a too-long line stored')
        assert_serves(self, self.srv)

    def test_header_too_big_552_5_3_4(self):
        t = token()
        pad = b''.join(b'X-Pad-%03d: %s\r\n' % (i, b'p' * 60) for i in range(100))  # ~7.5 KB
        self.assertTrue(4096 < len(pad) < 8000)
        bad = message(t, extra_headers=pad)
        c = self.client()
        self.transaction(c)
        c.send(dot_stuff(bad) + b'.\r\n')
        r = c.reply()
        self.assertEqual((r.code, r.enhanced), (552, '5.3.4'), r)
        self.assertEqual(c.cmd('NOOP').code, 250)
        self.assertEqual(self.srv.find(ALICE, t), [])
        t2 = token()
        ok = message(t2, extra_headers=pad[:1500])
        self.transaction(c)
        c.send(dot_stuff(ok) + b'.\r\n')
        self.assertEqual(c.reply().code, 250, 'message with a 1.5 KB header refused')
        found = self.srv.find(ALICE, t2)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'lim@remote.test', ok)

    # ---- grammar and sequence ----
    def test_unknown_command_500_5_5_1(self):
        c = self.client()
        r = c.cmd('FOOBAR baz')
        self.assertEqual((r.code, r.enhanced), (500, '5.5.1'), r)
        self.assertEqual(c.cmd('NOOP').code, 250)

    def test_bad_sequence_503_5_5_1(self):
        cases = [
            (['MAIL FROM:<a@remote.test>'], 'DATA'),                  # DATA before RCPT
            ([], 'RCPT TO:<%s>' % ALICE),                             # RCPT before MAIL
            ([], 'DATA'),                                             # DATA before MAIL
            (['MAIL FROM:<a@remote.test>'], 'MAIL FROM:<b@remote.test>'),  # nested MAIL
        ]
        for before, bad in cases:
            with self.subTest(bad=bad, before=before):
                c = self.client()
                for cmd in before:
                    self.assertEqual(c.cmd(cmd).code, 250)
                r = c.cmd(bad)
                self.assertEqual((r.code, r.enhanced), (503, '5.5.1'), r)
                self.assertEqual(c.cmd('NOOP').code, 250)
                c.close()
        assert_serves(self, self.srv)

    def test_bad_syntax_501(self):
        cases = [
            ('MAIL FROM:<not an address>', ('5.1.7', '5.5.4')),
            ('MAIL FROM:<a@@remote.test>', ('5.1.7', '5.5.4')),
            ('MAIL FROM:', ('5.5.4', '5.1.7')),
            ('MAIL FROM:a@remote.test>', ('5.5.4', '5.1.7')),
        ]
        for line, allowed in cases:
            with self.subTest(line=line):
                c = self.client()
                r = c.cmd(line)
                self.assertEqual(r.code, 501, r)
                self.assertIn(r.enhanced, allowed, r)
                c.close()
        for line, allowed in [('RCPT TO:<not an address>', ('5.1.3', '5.5.4')),
                              ('RCPT TO:<a@@example.test>', ('5.1.3', '5.5.4')),
                              ('RCPT TO:', ('5.5.4', '5.1.3'))]:
            with self.subTest(line=line):
                c = self.client()
                self.assertEqual(c.cmd('MAIL FROM:<a@remote.test>').code, 250)
                r = c.cmd(line)
                self.assertEqual(r.code, 501, r)
                self.assertIn(r.enhanced, allowed, r)
                c.close()
        assert_serves(self, self.srv)

    def test_vrfy_252_2_5_0(self):
        c = self.client()
        for who in (ALICE, 'nosuchuser@example.test'):
            r = c.cmd('VRFY ' + who)
            self.assertEqual((r.code, r.enhanced), (252, '2.5.0'), r)

    def test_too_many_errors_421_4_7_0(self):
        # Default max-errors = 10: the 11th error (over the limit) gets 421 and the close.
        c = self.client()
        n500 = 0
        final = None
        for i in range(14):
            try:
                r = c.cmd('BOGUS%d' % i)
            except (Closed, OSError) as e:
                self.fail('connection closed without 421 after %d errors: %s' % (n500, e))
            if r.code == 421:
                final = r
                break
            self.assertEqual(r.code, 500, r)
            n500 += 1
        self.assertIsNotNone(final, 'no 421 after 14 errors')
        self.assertEqual(final.enhanced, '4.7.0', final)
        self.assertIn(n500, (9, 10), '421 came after %d errors (max-errors = 10)' % n500)
        self.assertTrue(c.wait_closed(5), 'connection not closed after 421')
        assert_serves(self, self.srv)


class ConnectionLimits(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE],
                       config={'max-connections-per-ip': 3, 'max-connections': 5})

    def open(self, source='127.0.0.1'):
        c = RawSMTP(self.srv.smtp_port, source=source)
        self.addCleanup(c.close)
        return c

    def test_per_ip_and_total_limits(self):
        time.sleep(0.2)  # let the harness's readiness probe be forgotten
        first = [self.open() for _ in range(3)]
        for c in first:
            self.assertEqual(c.greeting.code, 220, c.greeting)
        fourth = self.open()
        self.assertEqual((fourth.greeting.code, fourth.greeting.enhanced), (421, '4.7.0'),
                         '4th connection from one IP: %r' % fourth.greeting)
        self.assertTrue(fourth.wait_closed(5), '4th connection not closed after 421')
        # Another client address is not limited by the first one's count...
        other = [self.open('127.0.0.2'), self.open('127.0.0.2')]
        for c in other:
            self.assertEqual(c.greeting.code, 220, c.greeting)
        # ...but the total (5) is.
        sixth = self.open('127.0.0.3')
        self.assertEqual((sixth.greeting.code, sixth.greeting.enhanced), (421, '4.7.0'),
                         '6th connection in total: %r' % sixth.greeting)
        self.assertTrue(sixth.wait_closed(5))
        # The open sessions still work.
        for c in first + other:
            self.assertEqual(c.cmd('NOOP').code, 250)
        for c in first + other:
            self.assertEqual(c.cmd('QUIT').code, 221)
            c.close()
        time.sleep(0.3)
        assert_serves(self, self.srv)
        again = [self.open() for _ in range(3)]
        for c in again:
            self.assertEqual(c.greeting.code, 220, 'slots not released after close: %r'
                             % c.greeting)


class CommandTimeout(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'command-timeout': 2})

    def assert_times_out(self, c):
        start = time.monotonic()
        c.sock.settimeout(8)
        try:
            r = c.reply()
        except socket.timeout:
            self.fail('no 421 within 8 s with command-timeout = 2')
        except Closed:
            self.fail('closed without 421 4.4.2')
        elapsed = time.monotonic() - start
        self.assertEqual((r.code, r.enhanced), (421, '4.4.2'), r)
        self.assertGreater(elapsed, 1.0, 'timed out too early')
        self.assertTrue(c.wait_closed(3), 'connection not closed after 421 4.4.2')

    def test_idle_after_greeting(self):
        with RawSMTP(self.srv.smtp_port) as c:
            self.assert_times_out(c)
        assert_serves(self, self.srv)

    def test_idle_in_the_middle_of_data(self):
        t = token()
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<slow@remote.test>').code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
            self.assertEqual(c.cmd('DATA').code, 354)
            c.send(b'Subject: ' + t.encode() + b'\r\n\r\nhalf a li')
            self.assert_times_out(c)
        assert_serves(self, self.srv)
        self.assertEqual(self.srv.find(ALICE, t), [], 'timed-out message stored')

    def test_idle_inside_a_bdat_chunk(self):
        t = token()
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<slow@remote.test>').code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
            c.send(b'BDAT 1000 LAST\r\nSubject: ' + t.encode() + b'\r\n\r\nonly a few bytes')
            self.assert_times_out(c)
        assert_serves(self, self.srv)
        self.assertEqual(self.srv.find(ALICE, t), [], 'timed-out message stored')

    def test_activity_keeps_session(self):
        with RawSMTP(self.srv.smtp_port) as c:
            for _ in range(3):
                time.sleep(1.2)
                self.assertEqual(c.cmd('NOOP').code, 250)


class Quota(ServerTestCase, unittest.TestCase):
    # default-quota is set before the accounts are created, so they get 2000 bytes each.
    SERVER_ARGS = dict(accounts=[ALICE, 'bob@example.test'], config={'default-quota': 2000})

    def test_over_quota_552_5_2_2_others_still_accepted(self):
        bob = 'bob@example.test'
        stored = 0
        full = False
        for i in range(8):
            with RawSMTP(self.srv.smtp_port) as c:
                c.ehlo()
                self.assertEqual(c.cmd('MAIL FROM:<q@remote.test>').code, 250)
                r = c.cmd('RCPT TO:<%s>' % ALICE)
                if r.code == 552:
                    self.assertEqual(r.enhanced, '5.2.2', r)
                    full = True
                    break
                self.assertEqual(r.code, 250, r)
                self.assertEqual(c.cmd('DATA').code, 354)
                t = token()
                c.send(dot_stuff(message(t, body=padding_body(t, 600))) + b'.\r\n')
                r = c.reply()
                if r.code == 552:  # the message itself would not fit any more
                    self.assertEqual(r.enhanced, '5.2.2', r)
                    full = True
                    break
                self.assertEqual(r.code, 250, r)
                stored += 1
        self.assertTrue(full, 'quota 2000 not enforced: %d messages of ~800 bytes accepted'
                        % stored)
        self.assertGreaterEqual(stored, 1, 'nothing fitted into a 2000-byte quota')
        self.assertEqual(len(self.srv.export_maildir(ALICE)), stored)
        # Now: alice refused at RCPT, bob in the same transaction accepted.
        t = token()
        msg = message(t)
        self.assertLess(len(msg), 1000)
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<q@remote.test> SIZE=1000').code, 250)
            r = c.cmd('RCPT TO:<%s>' % ALICE)
            self.assertEqual((r.code, r.enhanced), (552, '5.2.2'), r)
            r = c.cmd('RCPT TO:<%s>' % bob)
            self.assertEqual(r.code, 250, r)
            self.assertEqual(c.cmd('DATA').code, 354)
            c.send(dot_stuff(msg) + b'.\r\n')
            self.assertEqual(c.reply().code, 250)
        found = self.srv.find(bob, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'q@remote.test', msg)
        self.assertEqual(self.srv.find(ALICE, t), [])
        self.assertEqual(len(self.srv.export_maildir(ALICE)), stored)


if __name__ == '__main__':
    unittest.main()
