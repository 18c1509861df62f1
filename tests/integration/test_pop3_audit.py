"""The login audit log (`yubin audit`, docs/pop3.md): one line per POP3 login with the device
label, protocol, client address, TLS and result, newest last; --account and --limit."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEFAULT_PASSWORD, ServerTestCase  # noqa: E402
from pop3_common import (RawPOP3, app_password_add, assert_err, auth_plain_b64,  # noqa: E402
                         pop, quit_)

ALICE = 'alice@example.test'
BOB = 'bob@example.test'
LINE_RE = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC|\S+) account=(\S+) device="([^"]*)" '
                     r'protocol=(\S+) ip=(\S+) tls=(yes|no) result=(\S+)\s*$')


def parse(out):
    rows = []
    for line in out.splitlines():
        if not line.strip():
            continue
        m = LINE_RE.match(line)
        if not m:
            raise AssertionError('audit line not as documented: %r' % line)
        rows.append(dict(zip(('time', 'account', 'device', 'protocol', 'ip', 'tls', 'result'),
                             m.groups())))
    return rows


class Pop3Audit(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB], config={'auth-max-delay': 1})

    def audit(self, *args):
        return parse(self.srv.run('audit', *args).stdout.decode(errors='replace'))

    def test_logins_are_audited(self):
        pw_phone = app_password_add(self.srv, ALICE, 'Sato iPhone')
        pw_laptop = app_password_add(self.srv, ALICE, 'Laptop')
        quit_(pop(self.srv, ALICE, pw_phone))                              # plain, ok
        quit_(pop(self.srv, ALICE, pw_laptop, mode='ssl'))                 # pop3s, ok
        quit_(pop(self.srv, ALICE, DEFAULT_PASSWORD, mode='stls'))         # stls, ok
        with RawPOP3(self.srv.pop3_port, timeout=15) as c:                 # bad password
            c.cmd('USER ' + ALICE)
            assert_err(c.cmd('PASS wrong-password'), 'AUTH')
        with RawPOP3(self.srv.pop3_port, timeout=15) as c:                 # AUTH PLAIN ok
            r = c.cmd('AUTH PLAIN ' + auth_plain_b64(ALICE, pw_phone))
            self.assertTrue(r.startswith('+OK'), r)
            c.cmd('QUIT')
        quit_(pop(self.srv, BOB, DEFAULT_PASSWORD))                        # other account
        rows = self.audit('--account', ALICE)
        self.assertTrue(all(r['account'] == ALICE for r in rows), rows)
        got = [(r['device'], r['protocol'], r['ip'], r['tls'], r['result']) for r in rows]
        want = [('Sato iPhone', 'pop3', '127.0.0.1', 'no', 'ok'),
                ('Laptop', 'pop3', '127.0.0.1', 'yes', 'ok'),
                ('account password', 'pop3', '127.0.0.1', 'yes', 'ok'),
                (None, 'pop3', '127.0.0.1', 'no', 'bad-password'),
                ('Sato iPhone', 'pop3', '127.0.0.1', 'no', 'ok')]
        self.assertEqual(len(got), len(want), 'audit for alice:\n%s' % '\n'.join(map(str, got)))
        for g, w in zip(got, want):
            # The device of a bad password is unknown: any label is accepted there.
            self.assertEqual(g if w[0] is not None else (None,) + g[1:], w,
                             'audit for alice (newest last):\n%s' % '\n'.join(map(str, got)))
        # Newest last: the times do not go backwards.
        times = [r['time'] for r in rows]
        self.assertEqual(times, sorted(times))
        # --limit keeps the newest lines.
        last = self.audit('--account', ALICE, '--limit', '2')
        self.assertEqual(last, rows[-2:])
        # Without --account every account is there, bob included.
        everyone = self.audit()
        self.assertIn(BOB, {r['account'] for r in everyone})
        self.assertIn(ALICE, {r['account'] for r in everyone})

    def test_unknown_user_is_audited(self):
        with RawPOP3(self.srv.pop3_port, timeout=15) as c:
            r = c.cmd('USER ghost@example.test')
            if r.startswith('+OK'):
                r = c.cmd('PASS whatever')
            assert_err(r, 'AUTH')
        rows = self.audit()
        ghost = [r for r in rows if r['account'] == 'ghost@example.test']
        self.assertEqual(len(ghost), 1, rows)
        self.assertEqual((ghost[0]['protocol'], ghost[0]['result']), ('pop3', 'unknown-user'))


if __name__ == '__main__':
    unittest.main()
