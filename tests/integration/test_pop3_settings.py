"""POP3 settings (docs/pop3.md): POP3 idles at least 600 s whatever command-timeout says;
plaintext-auth follows SIGHUP; the keep-days sweep runs when the server starts (YUBIN_NOW moves
the server's clock); max-errors closes a POP3 session."""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEFAULT_PASSWORD, Closed, RawSMTP, Server, ServerTestCase  # noqa: E402
from pop3_common import (RawPOP3, app_password_add, assert_err, assert_ok, deliver,  # noqa
                         pop, quit_, stored_by_marker)

ALICE = 'alice@example.test'
DAY = 86400


class Pop3CommandTimeout(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'command-timeout': 1})

    def test_pop3_waits_longer_than_smtp(self):
        with RawSMTP(self.srv.smtp_port) as s, RawPOP3(self.srv.pop3_port) as before, \
                RawPOP3(self.srv.pop3_port) as after:
            after.login(ALICE, DEFAULT_PASSWORD)
            time.sleep(2.5)
            # SMTP obeys command-timeout = 1 (sanity check that the setting is in force) ...
            self.assertTrue(s.wait_closed(1), 'SMTP session not closed after command-timeout')
            # ... POP3 uses max(command-timeout, 600): both sessions are still there.
            caps = before.capa()
            self.assertIn('UIDL', caps)
            self.assertEqual(after.cmd('STAT'), '+OK 0 0')
            assert_ok(after.cmd('QUIT'))


class Pop3Reload(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE])

    def test_plaintext_auth_follows_sighup(self):
        with RawPOP3(self.srv.pop3_port) as c:
            c.login(ALICE, DEFAULT_PASSWORD)
            assert_ok(c.cmd('QUIT'))
        with open(os.path.join(self.srv.data, 'yubin.conf'), 'a') as f:
            f.write('plaintext-auth = never\n')
        self.srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while True:
            with RawPOP3(self.srv.pop3_port) as c:
                r = c.cmd('USER ' + ALICE)
                if r.startswith('-ERR') or time.monotonic() > deadline:
                    break
            time.sleep(0.1)
        sentence = assert_err(r, 'AUTH')
        self.assertRegex(sentence, r'SSL|TLS')
        # Over TLS it still works.
        quit_(pop(self.srv, ALICE, DEFAULT_PASSWORD, mode='stls'))
        quit_(pop(self.srv, ALICE, DEFAULT_PASSWORD, mode='ssl'))


class Pop3MaxErrors(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'max-errors': 3})

    def test_session_closed_after_max_errors(self):
        with RawPOP3(self.srv.pop3_port) as c:
            c.login(ALICE, DEFAULT_PASSWORD)
            replies = []
            closed = False
            for i in range(6):
                try:
                    replies.append(c.cmd('RETR %d' % (100 + i)))
                except (Closed, OSError):
                    closed = True
                    break
            self.assertTrue(closed or c.wait_closed(2),
                            'still open after 6 errors with max-errors = 3: %r' % replies)
            self.assertLessEqual(len(replies), 4, replies)
            for r in replies:
                assert_err(r)
        # A new session is fine.
        quit_(pop(self.srv, ALICE, DEFAULT_PASSWORD))


class Pop3Shutdown(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE])

    def test_sigterm_with_open_sessions(self):
        m1, _ = deliver(self.srv, ALICE)
        m2, _ = deliver(self.srv, ALICE, body=(b'z' * 70 + b'\r\n') * 30000)
        busy = RawPOP3(self.srv.pop3_port)
        self.addCleanup(busy.close)
        busy.login(ALICE, DEFAULT_PASSWORD)
        assert_ok(busy.cmd('DELE 1'))
        idle = RawPOP3(self.srv.pop3s_port, tls=True)
        self.addCleanup(idle.close)
        assert_ok(idle.cmd('USER ' + ALICE))
        t0 = time.monotonic()
        self.srv.restart()                  # SIGTERM must give exit 0 within 5 s (harness)
        self.assertLess(time.monotonic() - t0, 5)
        for c in (busy, idle):
            self.assertTrue(c.wait_closed(2), 'session left open by a stopped server')
            if c.buf:
                self.assertTrue(c.buf.startswith(b'-ERR'), c.buf)
        # A DELE without QUIT is not applied (RFC 1939 UPDATE state only after QUIT).
        self.assertEqual(sorted(stored_by_marker(self.srv, ALICE)), sorted([m1, m2]))
        p = pop(self.srv, ALICE, DEFAULT_PASSWORD)
        self.assertEqual(p.stat()[0], 2)
        quit_(p)


class Pop3ExpireAtStart(unittest.TestCase):
    def test_sweep_runs_when_the_server_starts(self):
        with Server(accounts=[ALICE]) as srv:
            pw_a = app_password_add(srv, ALICE, 'A')
            m1, _ = deliver(srv, ALICE)
            m2, _ = deliver(srv, ALICE)
            p = pop(srv, ALICE, pw_a)
            assert_ok(p.dele(1))
            quit_(p)
            self.assertEqual(sorted(stored_by_marker(srv, ALICE)), sorted([m1, m2]))
            srv.stop()
            os.environ['YUBIN_NOW'] = str(int(time.time() + 31 * DAY))
            try:
                srv.serve()
            finally:
                del os.environ['YUBIN_NOW']
            # The start-up sweep may run right after listening: give it a moment.
            deadline = time.monotonic() + 5
            while True:
                left = sorted(stored_by_marker(srv, ALICE))
                if left == [m2] or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertEqual(left, [m2], 'message deleted 31 days ago (keep-days 30) still '
                             'stored after a server start')
            p = pop(srv, ALICE, DEFAULT_PASSWORD)
            self.assertEqual(p.stat()[0], 1)
            quit_(p)


if __name__ == '__main__':
    unittest.main()
