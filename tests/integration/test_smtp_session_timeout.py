"""session-timeout: a client that keeps trickling bytes (never idle long enough for
command-timeout) is still sent away once the whole session is too old."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RawSMTP, ServerTestCase, assert_serves  # noqa

ALICE = 'alice@example.test'


class SessionTimeout(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE],
                       config={'session-timeout': 10, 'command-timeout': 5})

    def test_trickling_client_gets_421_4_4_2(self):
        c = RawSMTP(self.srv.smtp_port)
        self.addCleanup(c.close)
        c.ehlo()
        start = time.monotonic()
        reply = None
        # One NOOP every 2 s keeps the command timeout (5 s) from firing.
        while time.monotonic() - start < 20:
            try:
                r = c.cmd('NOOP')
            except Exception:
                break
            if r.code != 250:
                reply = r
                break
            time.sleep(2)
        self.assertIsNotNone(reply, 'no session timeout within 20 s')
        self.assertEqual((reply.code, reply.enhanced), (421, '4.4.2'), reply)
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 8)
        self.assertTrue(c.wait_closed(5.0), 'connection not closed after 421')
        assert_serves(self, self.srv)


if __name__ == '__main__':
    unittest.main()
