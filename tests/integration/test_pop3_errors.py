"""POP3 error paths (docs/pop3.md): every -ERR carries a sentence; unknown commands, bad
arguments, wrong state, over-long lines, unknown and deleted messages, authentication failures,
growing delays after failed logins (no hard lockout), [IN-USE] for a second session of the same
device, plaintext refusal with plaintext-auth = never, and what CAPA advertises when."""

import os
import poplib
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_PASSWORD, HOSTNAME, Closed, RawSMTP, ServerTestCase,  # noqa
                     client_tls_context)
from pop3_common import (GREETING_RE, RawPOP3, app_password_add, assert_err, assert_ok,  # noqa: E402
                         auth_plain_b64, deliver, pop, quit_, retr_bytes, stored_by_marker)

ALICE = 'alice@example.test'
BOB = 'bob@example.test'
CAROL = 'carol@example.test'
DAVE = 'dave@example.test'


class Pop3Errors(ServerTestCase, unittest.TestCase):
    """Errors of a logged-in or not yet logged-in session that are not authentication failures
    (those make the server slow down and have their own server below)."""
    SERVER_ARGS = dict(accounts=[ALICE, BOB])

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.markers = [deliver(cls.srv, ALICE)[0] for _ in range(2)]

    def session(self):
        c = RawPOP3(self.srv.pop3_port)
        self.addCleanup(c.close)
        return c

    def logged_in(self):
        c = self.session()
        c.login(ALICE, DEFAULT_PASSWORD)
        return c

    def test_unknown_command(self):
        c = self.session()
        assert_err(c.cmd('XYZZY'))
        assert_err(c.cmd('HELO there'))
        assert_ok(c.cmd('CAPA'))                    # the session is still usable
        c.multiline_raw()
        c = self.logged_in()
        assert_err(c.cmd('FROB 1'))
        assert_ok(c.cmd('NOOP'))

    def test_empty_line(self):
        c = self.session()
        assert_err(c.cmd(''))
        c.login(ALICE, DEFAULT_PASSWORD)
        assert_err(c.cmd(''))
        assert_ok(c.cmd('NOOP'))

    def test_bad_arguments(self):
        lines = ('RETR x', 'RETR 0', 'RETR -1', 'RETR', 'RETR 1x', 'RETR 99999999999999999999',
                 'DELE x', 'DELE', 'DELE 0', 'LIST y', 'LIST 0', 'UIDL y', 'TOP 1', 'TOP 1 x',
                 'TOP x 1', 'TOP 1 -1', 'TOP 0 1')
        # A few per session: max-errors (10) would close a session that makes them all.
        for i in range(0, len(lines), 5):
            c = self.logged_in()
            for line in lines[i:i + 5]:
                with self.subTest(line=line):
                    assert_err(c.cmd(line))
            assert_ok(c.cmd('NOOP'))
            self.assertEqual(c.cmd('STAT')[:5], '+OK 2')
            assert_ok(c.cmd('QUIT'))

    def test_unknown_message_number(self):
        c = self.logged_in()
        for line in ('RETR 999', 'RETR 3', 'LIST 999', 'UIDL 3', 'DELE 999', 'TOP 3 0'):
            with self.subTest(line=line):
                assert_err(c.cmd(line))
        assert_ok(c.cmd('NOOP'))

    def test_deleted_message_in_same_session(self):
        c = self.logged_in()
        assert_ok(c.cmd('DELE 1'))
        for line in ('RETR 1', 'DELE 1', 'LIST 1', 'UIDL 1', 'TOP 1 0'):
            with self.subTest(line=line):
                assert_err(c.cmd(line))
        st, lines = c.multi('LIST')
        assert_ok(st)
        self.assertEqual([l.split()[0] for l in lines], [b'2'])
        assert_ok(c.cmd('RSET'))
        st, _ = c.multi('RETR 1')
        assert_ok(st)
        # Leave without QUIT: nothing deleted.

    def test_wrong_state_before_login(self):
        c = self.session()
        for line in ('STAT', 'LIST', 'RETR 1', 'DELE 1', 'UIDL', 'TOP 1 0', 'RSET', 'PASS x'):
            with self.subTest(line=line):
                assert_err(c.cmd(line))
        # PASS without USER did not count as a login attempt that breaks the session.
        c.login(ALICE, DEFAULT_PASSWORD)
        assert_ok(c.cmd('QUIT'))

    def test_wrong_state_after_login(self):
        c = self.logged_in()
        for line in ('USER ' + ALICE, 'PASS ' + DEFAULT_PASSWORD, 'STLS',
                     'AUTH PLAIN ' + auth_plain_b64(ALICE, DEFAULT_PASSWORD)):
            with self.subTest(line=line):
                assert_err(c.cmd(line))
        self.assertEqual(c.cmd('STAT')[:5], '+OK 2')
        assert_ok(c.cmd('QUIT'))

    def test_overlong_line_before_and_after_login(self):
        c = self.session()
        assert_err(c.cmd('USER ' + 'a' * 295))      # 300 bytes + CRLF
        assert_err(c.cmd('NOOP' + ' ' * 296))
        c.login(ALICE, DEFAULT_PASSWORD)
        assert_err(c.cmd('RETR ' + '1' * 295))
        assert_err(c.cmd('X' * 1000))
        self.assertEqual(c.cmd('STAT')[:5], '+OK 2')
        assert_ok(c.cmd('QUIT'))

    def test_line_of_255_bytes_is_fine(self):
        c = self.session()
        # RFC 2449: 255 octets including CRLF are allowed.
        r = c.cmd('USER ' + 'u' * 248)              # 253 + CRLF = 255
        self.assertTrue(r.startswith('+OK') or r.startswith('-ERR [AUTH]') or
                        (r.startswith('-ERR') and 'long' not in r.lower()),
                        'a 255-byte line was treated as too long: %r' % r)
        c.cmd('QUIT')

    def test_stls_on_pop3s_is_refused(self):
        c = RawPOP3(self.srv.pop3s_port, tls=True)
        self.addCleanup(c.close)
        assert_err(c.cmd('STLS'))
        c.login(ALICE, DEFAULT_PASSWORD)
        assert_ok(c.cmd('QUIT'))

    def test_auth_unknown_mechanism_and_cancel(self):
        c = self.session()
        assert_err(c.cmd('AUTH CRAM-MD5'))
        assert_err(c.cmd('AUTH FOOBAR'))
        r = c.cmd('AUTH PLAIN')
        self.assertTrue(r.startswith('+'), r)
        assert_err(c.cmd('*'))                      # client cancels (RFC 5034)
        r = c.cmd('AUTH PLAIN')
        self.assertTrue(r.startswith('+'), r)
        assert_err(c.cmd('not base64 !!!'))
        c.login(ALICE, DEFAULT_PASSWORD)
        assert_ok(c.cmd('QUIT'))

    def test_too_many_errors_closes(self):
        c = self.session()
        closed = False
        for i in range(30):
            try:
                r = c.cmd('BOGUS%d' % i)
            except (Closed, OSError):
                closed = True
                break
            self.assertTrue(r.startswith('-ERR'), r)
        self.assertTrue(closed or c.wait_closed(2),
                        'session still open after 30 errors (max-errors = 10)')

    def test_capa_before_and_after_login(self):
        c = self.session()
        caps = c.capa()
        names = [x.split()[0].upper() for x in caps]
        for cap in ('TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'USER',
                    'STLS', 'SASL', 'IMPLEMENTATION'):
            self.assertIn(cap, names, 'CAPA on 110 (loopback, no TLS): %r' % caps)
        self.assertIn('SASL PLAIN', [x.upper() for x in caps], caps)
        self.assertIn('IMPLEMENTATION yubin', caps)
        c.login(ALICE, DEFAULT_PASSWORD)
        caps = c.capa()
        names = [x.split()[0].upper() for x in caps]
        for cap in ('TOP', 'UIDL', 'RESP-CODES', 'PIPELINING'):
            self.assertIn(cap, names, 'CAPA after login: %r' % caps)
        for cap in ('USER', 'SASL', 'STLS'):
            self.assertNotIn(cap, names, 'CAPA after login still offers %s: %r' % (cap, caps))
        assert_ok(c.cmd('QUIT'))

    def test_capa_after_stls_and_on_pop3s(self):
        c = self.session()
        c.stls()
        caps = c.capa()
        names = [x.split()[0].upper() for x in caps]
        self.assertNotIn('STLS', names, 'STLS still offered after TLS: %r' % caps)
        self.assertIn('USER', names, caps)
        self.assertIn('SASL PLAIN', [x.upper() for x in caps], caps)
        assert_err(c.cmd('STLS'))
        c.login(ALICE, DEFAULT_PASSWORD)
        assert_ok(c.cmd('QUIT'))
        s = RawPOP3(self.srv.pop3s_port, tls=True)
        self.addCleanup(s.close)
        caps = s.capa()
        names = [x.split()[0].upper() for x in caps]
        self.assertNotIn('STLS', names, 'STLS offered on 995: %r' % caps)
        self.assertIn('USER', names, caps)
        self.assertIn('SASL PLAIN', [x.upper() for x in caps], caps)

    def test_stls_plaintext_injection_is_discarded(self):
        # Commands pipelined after STLS in the same packet must not be executed inside TLS
        # (CVE-2011-0411 class): the server answers STLS and discards the rest.
        c = self.session()
        c.send('STLS\r\nUSER %s\r\n' % ALICE)
        r = c.line()
        assert_ok(r)
        c.sock = client_tls_context().wrap_socket(c.sock, server_hostname=HOSTNAME)
        c.buf = b''
        # If the injected USER had been run, PASS would succeed now.
        r = c.cmd('PASS ' + DEFAULT_PASSWORD)
        assert_err(r)


class Pop3AuthFailures(ServerTestCase, unittest.TestCase):
    """Failed logins; auth-max-delay small so the growing delay keeps the test short."""
    SERVER_ARGS = dict(accounts=[ALICE, BOB, CAROL], config={'auth-max-delay': 3})

    def test_bad_password_and_unknown_user(self):
        for user, pw in ((ALICE, 'wrong-password'), ('nobody@example.test', 'whatever'),
                         ('not an address', 'x')):
            with self.subTest(user=user):
                c = RawPOP3(self.srv.pop3_port, timeout=15)
                self.addCleanup(c.close)
                r = c.cmd('USER ' + user)
                # USER may accept anything (no user enumeration); PASS must fail.
                if r.startswith('+OK'):
                    r = c.cmd('PASS ' + pw)
                assert_err(r, 'AUTH')
                # The session goes on after a failure (or is closed politely).
                try:
                    r = c.cmd('QUIT')
                    assert_ok(r)
                except Closed:
                    pass
        with RawPOP3(self.srv.pop3_port, timeout=15) as c:
            r = c.cmd('AUTH PLAIN ' + auth_plain_b64(ALICE, 'wrong'))
            assert_err(r, 'AUTH')
        p = pop(self.srv, ALICE, DEFAULT_PASSWORD)
        quit_(p)


class Pop3Throttle(ServerTestCase, unittest.TestCase):
    """Several wrong passwords from one address: growing delays up to auth-max-delay, and the
    right password still works (no hard lockout). A server of its own: nothing else failed
    from 127.0.0.1 before."""
    SERVER_ARGS = dict(accounts=[CAROL], config={'auth-max-delay': 3})

    def test_growing_delay_but_no_lockout(self):
        delays = []
        for i in range(5):
            t0 = time.monotonic()
            with RawPOP3(self.srv.pop3_port, timeout=20) as c:
                r = c.cmd('USER ' + CAROL)
                if r.startswith('+OK'):
                    r = c.cmd('PASS wrong-%d' % i)
                delays.append(time.monotonic() - t0)
                assert_err(r, 'AUTH')
        # The right password still works (possibly after the current delay).
        t0 = time.monotonic()
        p = pop(self.srv, CAROL, DEFAULT_PASSWORD)
        ok_delay = time.monotonic() - t0
        quit_(p)
        msg = 'delays for 5 bad passwords: %s; then right password after %.2fs' % (
            ', '.join('%.2f' % d for d in delays), ok_delay)
        self.assertGreater(delays[-1], delays[0] + 0.9, 'delay does not grow: ' + msg)
        self.assertGreaterEqual(delays[-1], 1.5, 'no real slow-down: ' + msg)
        for d in delays + [ok_delay]:
            self.assertLess(d, 3 + 2, 'a delay exceeds auth-max-delay (3 s) + 2 s: ' + msg)
        # Delays never shrink while the failures go on.
        for a, b in zip(delays, delays[1:]):
            self.assertGreaterEqual(b, a - 0.3, 'delay went down: ' + msg)


class Pop3InUse(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[DAVE])

    def test_second_session_of_same_device(self):
        m1, msg1 = deliver(self.srv, DAVE)
        pw_a = app_password_add(self.srv, DAVE, 'Device A')
        pw_b = app_password_add(self.srv, DAVE, 'Device B')
        first = RawPOP3(self.srv.pop3_port)
        self.addCleanup(first.close)
        first.login(DAVE, pw_a)
        with RawPOP3(self.srv.pop3_port) as second:
            assert_ok(second.cmd('USER ' + DAVE))
            r = second.cmd('PASS ' + pw_a)
            assert_err(r, 'IN-USE')
        with RawPOP3(self.srv.pop3_port) as second:
            r = second.cmd('AUTH PLAIN ' + auth_plain_b64(DAVE, pw_a))
            assert_err(r, 'IN-USE')
        # A different device logs in at the same time and SMTP keeps delivering.
        p = pop(self.srv, DAVE, pw_b)
        m2, msg2 = deliver(self.srv, DAVE)
        self.assertEqual(len(stored_by_marker(self.srv, DAVE)), 2)
        self.assertGreaterEqual(p.stat()[0], 1)
        quit_(p)
        p = pop(self.srv, DAVE, DEFAULT_PASSWORD)
        self.assertEqual(p.stat()[0], 2)
        quit_(p)
        # The first session still works, and once it quits the device can log in again.
        self.assertTrue(first.cmd('STAT').startswith('+OK 1 '))
        assert_ok(first.cmd('QUIT'))
        first.wait_closed(2)
        p = pop(self.srv, DAVE, pw_a)
        self.assertEqual(p.stat()[0], 2)
        quit_(p)

    def test_dropped_session_frees_the_device(self):
        pw = app_password_add(self.srv, DAVE, 'Dropper')
        c = RawPOP3(self.srv.pop3_port)
        c.login(DAVE, pw)
        c.close()                                    # no QUIT: connection just drops
        deadline = time.monotonic() + 3
        while True:
            with RawPOP3(self.srv.pop3_port) as d:
                d.cmd('USER ' + DAVE)
                r = d.cmd('PASS ' + pw)
                if r.startswith('+OK') or time.monotonic() > deadline:
                    break
            time.sleep(0.1)
        assert_ok(r)


class Pop3ThrottleDoesNotBlock(ServerTestCase, unittest.TestCase):
    """While one client waits out its login delay, everybody else is served at once."""
    SERVER_ARGS = dict(accounts=[ALICE], config={'auth-max-delay': 3})

    def test_delay_does_not_stall_other_sessions(self):
        deliver(self.srv, ALICE)
        logged = RawPOP3(self.srv.pop3_port)
        self.addCleanup(logged.close)
        logged.login(ALICE, DEFAULT_PASSWORD)
        for i in range(4):
            with RawPOP3(self.srv.pop3_port, timeout=20) as c:
                if c.cmd('USER ' + ALICE).startswith('+OK'):
                    assert_err(c.cmd('PASS wrong-%d' % i), 'AUTH')
        slow = RawPOP3(self.srv.pop3_port, timeout=20)
        self.addCleanup(slow.close)
        slow.cmd('USER ' + ALICE)
        t0 = time.monotonic()
        slow.send('PASS wrong-again\r\n')
        time.sleep(0.2)
        t1 = time.monotonic()
        self.assertTrue(logged.cmd('STAT').startswith('+OK 1 '))
        with RawSMTP(self.srv.smtp_port) as s:
            self.assertEqual(s.greeting.code, 220)
            s.ehlo()
        others = time.monotonic() - t1
        assert_err(slow.line(), 'AUTH')
        delayed = time.monotonic() - t0
        self.assertGreater(delayed, 1.5, 'the 5th wrong password was not delayed')
        self.assertLess(others, 1.0, 'a POP3 session and SMTP waited %.2fs while another '
                        "client's login was delayed %.2fs" % (others, delayed))
        assert_ok(logged.cmd('QUIT'))


class Pop3Robustness(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'max-connections-per-ip': 3})

    def test_connection_limit_per_ip(self):
        conns = [RawPOP3(self.srv.pop3_port) for _ in range(3)]
        for c in conns:
            self.addCleanup(c.close)
            self.assertRegex(c.greeting, GREETING_RE)
        with RawPOP3(self.srv.pop3_port) as extra:
            assert_err(extra.greeting, 'SYS/TEMP')
            self.assertTrue(extra.wait_closed(3))
        for c in conns:
            c.close()
        deadline = time.monotonic() + 3
        while True:
            with RawPOP3(self.srv.pop3_port) as c:
                if c.greeting.startswith('+OK') or time.monotonic() > deadline:
                    break
            time.sleep(0.1)
        self.assertRegex(c.greeting, GREETING_RE, 'slots not freed after the clients left')

    def test_garbage_instead_of_tls(self):
        s = socket.create_connection(('127.0.0.1', self.srv.pop3s_port), timeout=5)
        try:
            s.sendall(b'USER alice@example.test\r\n' * 20)
            s.settimeout(3)
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
        finally:
            s.close()
        c = RawPOP3(self.srv.pop3_port)
        self.addCleanup(c.close)
        c.cmd('STLS')
        c.send(b'\x16\x03\x01\x00\x05hello' + b'\x00' * 100)
        self.assertTrue(c.wait_closed(3), 'server kept a broken TLS handshake open')
        quit_(pop(self.srv, ALICE, DEFAULT_PASSWORD, mode='ssl'))

    def test_client_drops_during_big_retr(self):
        marker, _ = deliver(self.srv, ALICE, body=(b'y' * 70 + b'\r\n') * 20000)
        stored = stored_by_marker(self.srv, ALICE)[marker]
        for tls in (False, True):
            c = RawPOP3(self.srv.pop3s_port if tls else self.srv.pop3_port, tls=tls)
            c.login(ALICE, DEFAULT_PASSWORD)
            c.send(b'RETR 1\r\nRETR 1\r\nRETR 1\r\n')
            time.sleep(0.2)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            c.close()                                 # RST with data in flight
        time.sleep(0.3)
        self.assertTrue(self.srv.alive(), 'server died; log:\n' + self.srv.log_tail())
        # The device is free again and the message is intact.
        deadline = time.monotonic() + 3
        while True:
            try:
                p = pop(self.srv, ALICE, DEFAULT_PASSWORD)
                break
            except poplib.error_proto:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.assertEqual(p.stat()[0], 1)
        data, _ = retr_bytes(p, 1)
        self.assertEqual(data, stored)
        quit_(p)


class Pop3PlaintextNever(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'plaintext-auth': 'never'})

    def test_passwords_refused_before_tls(self):
        m, msg = deliver(self.srv, ALICE)
        with RawPOP3(self.srv.pop3_port) as c:
            caps = c.capa()
            names = [x.split()[0].upper() for x in caps]
            self.assertIn('STLS', names, caps)
            self.assertNotIn('USER', names, 'USER offered while passwords are refused: %r' % caps)
            self.assertNotIn('SASL', names, 'SASL offered while passwords are refused: %r' % caps)
            for line in ('USER ' + ALICE, 'PASS ' + DEFAULT_PASSWORD,
                         'AUTH PLAIN ' + auth_plain_b64(ALICE, DEFAULT_PASSWORD), 'AUTH PLAIN'):
                with self.subTest(line=line):
                    r = c.cmd(line)
                    sentence = assert_err(r, 'AUTH')
                    self.assertRegex(sentence, r'SSL|TLS', 'no hint to turn on SSL/TLS: %r' % r)
            self.assertTrue(c.cmd('STAT').startswith('-ERR'))
            # After STLS, the same login works and USER/SASL are offered.
            c.stls()
            caps = c.capa()
            names = [x.split()[0].upper() for x in caps]
            self.assertIn('USER', names, caps)
            self.assertIn('SASL', names, caps)
            c.login(ALICE, DEFAULT_PASSWORD)
            self.assertTrue(c.cmd('STAT').startswith('+OK 1 '))
            assert_ok(c.cmd('QUIT'))
        p = pop(self.srv, ALICE, DEFAULT_PASSWORD, mode='ssl')
        data, _ = retr_bytes(p, 1)
        self.assertTrue(data.endswith(msg))
        quit_(p)


if __name__ == '__main__':
    unittest.main()
