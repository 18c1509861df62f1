"""Limits every service shares (docs/configuration.md): login-timeout closes IMAP and POP3
clients that do not log in, while logged-in sessions keep the RFC idle minimums; and port 25
keeps smtp-reserved-connections of max-connections that idle IMAP connections cannot take."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_PASSWORD, RawSMTP, ServerTestCase, message,  # noqa: E402
                     send_raw_data, token)
from imap_common import RawIMAP  # noqa: E402
from pop3_common import RawPOP3  # noqa: E402

ALICE = 'alice@example.test'


class LoginTimeout(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'login-timeout': 2})

    def test_unauthenticated_closed_authenticated_kept(self):
        with RawIMAP(self.srv.imap_port) as anon_imap, RawIMAP(self.srv.imap_port) as imap, \
                RawPOP3(self.srv.pop3_port) as anon_pop, RawPOP3(self.srv.pop3_port) as pop, \
                RawSMTP(self.srv.port_offset + 587) as anon_sub, \
                RawSMTP(self.srv.smtp_port) as mx:
            imap.login(ALICE)
            pop.login(ALICE, DEFAULT_PASSWORD)
            t0 = time.monotonic()
            # Not before ~2 s, and well within 10 s (the machine may be loaded).
            self.assertTrue(anon_imap.wait_closed(10), 'IMAP without login still open after 10 s')
            self.assertTrue(anon_pop.wait_closed(10), 'POP3 without login still open after 10 s')
            waited = time.monotonic() - t0
            self.assertGreater(waited, 1.0)
            self.assertIn(b'* BYE No login within 2 seconds', anon_imap.buf)
            self.assertIn(b'-ERR No login within 2 seconds', anon_pop.buf)
            # Submission before AUTH too (421 4.4.2); port 25 keeps command-timeout (300 s).
            self.assertTrue(anon_sub.wait_closed(10), 'submission without AUTH still open')
            self.assertIn(b'421 4.4.2 No command for 2 seconds', anon_sub.buf)
            time.sleep(max(0, 4 - waited))
            # Logged in: the RFC minimums apply (30 min IMAP, 10 min POP3), not login-timeout.
            self.assertEqual(imap.cmd('NOOP').status, 'OK')
            self.assertTrue(pop.cmd('NOOP').startswith('+OK'))
            self.assertEqual(mx.cmd('NOOP').code, 250)


class MxReservedConnections(ServerTestCase, unittest.TestCase):
    # 20 in all, 5 kept for port 25: IMAP, POP3 and submission share 15.
    SERVER_ARGS = dict(accounts=[ALICE], config={
        'max-connections': 20, 'smtp-reserved-connections': 5, 'max-connections-per-ip': 4})

    def idle_imap(self, source):
        s = socket.create_connection(('127.0.0.1', self.srv.imap_port), timeout=10,
                                     source_address=(source, 0))
        s.settimeout(10)
        greeting = b''
        while not greeting.endswith(b'\r\n'):
            chunk = s.recv(4096)
            if not chunk:
                break
            greeting += chunk
        return s, greeting

    def test_idle_imap_cannot_take_port_25(self):
        socks = []
        try:
            # Five addresses, four connections each: 20 tries for 15 slots.
            greetings = []
            for i in range(20):
                s, g = self.idle_imap('127.0.0.%d' % (2 + i // 4))
                socks.append(s)
                greetings.append(g)
            accepted = [g for g in greetings if g.startswith(b'* OK')]
            refused = [g for g in greetings if g.startswith(b'* BYE')]
            self.assertEqual(len(accepted), 15, [g[:40] for g in greetings])
            self.assertEqual(len(refused), 5, [g[:40] for g in greetings])
            # Port 25 still answers and takes a message.
            marker = token()
            with RawSMTP(self.srv.smtp_port, source='127.0.0.9') as c:
                self.assertEqual(c.greeting.code, 220, c.greeting)
                c.ehlo()
                r = send_raw_data(c, 'sender@remote.test', [ALICE], message(marker))
                self.assertEqual(r.code, 250, r)
            self.assertTrue(self.srv.find(ALICE, marker))
        finally:
            for s in socks:
                s.close()


if __name__ == '__main__':
    unittest.main()
