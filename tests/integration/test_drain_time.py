"""drain-time: a stop (SIGTERM) waits that long for sessions that cannot be closed cleanly (here
an IMAP client that asked for megabytes and reads nothing, so even its BYE cannot be sent),
then closes them and exits 0; it never waits longer, whatever the setting was before."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server  # noqa
from imap_common import DEFAULT_PASSWORD, RawIMAP, deliver, quote  # noqa

USER = 'alice@example.test'


def stuck_reader(srv):
    """An IMAP session whose client asked for far more than the socket buffers hold and
    reads nothing: the server's output is stuck, so it cannot say goodbye."""
    c = RawIMAP(srv.imap_port)
    c.cmd('LOGIN %s %s' % (quote(USER), quote(DEFAULT_PASSWORD)))
    c.cmd('SELECT INBOX')
    c.send(''.join('f%d FETCH 1:* BODY.PEEK[]\r\n' % i for i in range(40)))
    return c


class DrainTime(unittest.TestCase):
    def stop_time(self, drain):
        with Server(accounts=[USER], config={'drain-time': drain}) as srv:
            body = (b'x' * 998 + b'\r\n') * 1000           # about 1 MB each
            for _ in range(3):
                deliver(srv, USER, body=body)
            c = stuck_reader(srv)
            try:
                time.sleep(1.0)                             # the output fills up
                t0 = time.monotonic()
                code = srv.stop(assert_clean=False)
                took = time.monotonic() - t0
                log = srv.log_text()
            finally:
                c.close()
        self.assertEqual(code, 0, log[-3000:])
        self.assertRegex(log, r'event=shutdown-forced sessions=1\b',
                         'the stuck session should have been closed by force:\n' + log[-3000:])
        self.assertNotIn('shutdown-stuck', log)
        return took

    def test_short_drain_time_stops_soon(self):
        took = self.stop_time(1)
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 3.0, 'drain-time = 1 but the stop took %.1f s' % took)

    def test_longer_drain_time_waits_for_it(self):
        took = self.stop_time(4)
        self.assertGreaterEqual(took, 3.8, 'drain-time = 4 but the stop took %.1f s' % took)
        self.assertLess(took, 6.5)


if __name__ == '__main__':
    unittest.main()
