"""Issue 9: no IMAP command may hold the shared event loop. A LIST pattern of hundreds of
wildcards once backtracked exponentially and stopped SMTP, POP3 and IMAP for everyone (and
SIGTERM with them); other clients must be greeted while such a command runs, and it must end."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RawSMTP, ServerTestCase  # noqa: E402
from imap_common import RawIMAP, logged_in  # noqa: E402
from pop3_common import RawPOP3  # noqa: E402

DOMAIN = 'example.test'
USER = 'alice@' + DOMAIN
# Long names without a separator give the old recursive matcher the most ways to split them.
BOXES = ['Projects2024quarterlyreviewsx', 'Projects2024quarterlyreviews']


def greeted_within(testcase, srv, seconds):
    """SMTP, POP3 and IMAP each greet a new client within `seconds`."""
    t0 = time.monotonic()
    with RawSMTP(srv.smtp_port, timeout=seconds) as s:
        testcase.assertEqual(s.greeting.code, 220, s.greeting)
    with RawPOP3(srv.pop3_port, timeout=seconds) as p:
        testcase.assertTrue(p.greeting.startswith('+OK'), p.greeting)
    with RawIMAP(srv.imap_port, timeout=seconds) as i:
        testcase.assertTrue(i.greeting.line.startswith('* OK'), i.greeting)
    return time.monotonic() - t0


class ImapListWildcards(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[USER])

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with logged_in(cls.srv, USER) as c:
            for b in BOXES:
                r = c.cmd('CREATE %s' % b)
                assert r.status == 'OK', r

    def run_pattern(self, command, expect):
        c = logged_in(self.srv, USER)
        try:
            c.send('w1 %s\r\n' % command)
            time.sleep(0.2)
            try:
                took = greeted_within(self, self.srv, 5.0)
            except (socket.timeout, OSError) as e:
                self.fail('no greeting within 5 s while %s... ran: %r' % (command[:30], e))
            self.assertLess(took, 5.0)
            c.sock.settimeout(10.0)
            res = c.until_tagged('w1')
            self.assertEqual(res.status, 'OK', res)
            names = sorted(l.rsplit(' ', 1)[1].strip('"') for l in res.lines(command[:4]))
            self.assertEqual(names, expect, res)
        finally:
            c.close()

    def test_list_with_hundreds_of_wildcards(self):
        self.run_pattern('LIST "" "%s"' % ('%' * 400 + 'x'), [BOXES[0]])

    def test_lsub_and_wildcards_in_the_reference(self):
        with logged_in(self.srv, USER) as c:
            self.assertEqual(c.cmd('SUBSCRIBE %s' % BOXES[0]).status, 'OK')
        self.run_pattern('LSUB "" "%s"' % ('*%' * 300 + 'x'), [BOXES[0]])
        # The reference is joined to the pattern with the separator: "<ref>/<pattern>".
        with logged_in(self.srv, USER) as c:
            self.assertEqual(c.cmd('CREATE %s/sub' % BOXES[1]).status, 'OK')
        self.run_pattern('LIST "%s" "%s"' % ('%' * 300 + 's', '%' * 300 + 'b'),
                         [BOXES[1] + '/sub'])


if __name__ == '__main__':
    unittest.main()
