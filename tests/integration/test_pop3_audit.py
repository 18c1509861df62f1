"""The login audit log (`yubin audit`, docs/pop3.md): one line per POP3 login with the device
label, protocol, client address, TLS and result, newest last; --account and --limit."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEFAULT_PASSWORD, ServerTestCase  # noqa: E402
from pop3_common import (RawPOP3, app_password_add, assert_err, auth_plain_b64,  # noqa: E402
                         pop, quit_)

ALICE = 'alice@example.test'
DOCUMENTED_RESULTS = ('ok', 'bad-password', 'unknown-user', 'disabled', 'throttled')
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

    def audit(self, *args, at_least=0):
        """Parsed `yubin audit ARGS`. The server writes audit lines through its store
        committer, a moment after the reply: wait up to 3 s for at_least lines."""
        deadline = time.monotonic() + 3
        while True:
            rows = parse(self.srv.run('audit', *args).stdout.decode(errors='replace'))
            if len(rows) >= at_least or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)

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
        rows = self.audit('--account', ALICE, at_least=5)
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
        everyone = self.audit(at_least=6)
        self.assertIn(BOB, {r['account'] for r in everyone})
        self.assertIn(ALICE, {r['account'] for r in everyone})

    def test_unknown_user_is_audited(self):
        with RawPOP3(self.srv.pop3_port, timeout=15) as c:
            r = c.cmd('USER ghost@example.test')
            if r.startswith('+OK'):
                r = c.cmd('PASS whatever')
            assert_err(r, 'AUTH')
        rows = self.audit('--account', 'ghost@example.test', at_least=1)
        ghost = [r for r in rows if r['account'] == 'ghost@example.test']
        self.assertEqual(len(ghost), 1, rows)
        self.assertEqual((ghost[0]['protocol'], ghost[0]['result']), ('pop3', 'unknown-user'))

    def test_refused_account_password_result_is_documented(self):
        # docs/pop3.md: result=ok|bad-password|unknown-user|throttled|disabled
        carol = 'carol@example.test'
        self.srv.add_account(carol)
        self.srv.run('account', 'set', carol, 'account-password', 'off')
        with RawPOP3(self.srv.pop3_port, timeout=15) as c:
            c.cmd('USER ' + carol)
            assert_err(c.cmd('PASS ' + DEFAULT_PASSWORD), 'AUTH')
        rows = self.audit('--account', carol, at_least=1)
        self.assertEqual(len(rows), 1, 'audit --account %s: %r\nwhole audit:\n%s' % (
            carol, rows, self.srv.run('audit').stdout.decode()))
        self.assertIn(rows[0]['result'], DOCUMENTED_RESULTS,
                      'account password turned off: audit result %r is not one of the '
                      'documented results' % rows[0]['result'])

    def test_every_audit_result_is_documented(self):
        dave = 'dave@example.test'
        self.srv.add_account(dave)
        pw = app_password_add(self.srv, dave, 'Tablet')
        quit_(pop(self.srv, dave, pw))
        quit_(pop(self.srv, dave, DEFAULT_PASSWORD, mode='ssl'))
        for user, bad in ((dave, 'wrong'), ('ghost2@example.test', 'x')):
            with RawPOP3(self.srv.pop3_port, timeout=15) as c:
                if c.cmd('USER ' + user).startswith('+OK'):
                    c.cmd('PASS ' + bad)
        self.srv.run('account', 'app-password', 'revoke', dave, 'Tablet')
        with RawPOP3(self.srv.pop3_port, timeout=15) as c:
            c.cmd('USER ' + dave)
            assert_err(c.cmd('PASS ' + pw), 'AUTH')
        self.assertEqual(len(self.audit('--account', dave, at_least=4)), 4)
        self.audit('--account', 'ghost2@example.test', at_least=1)
        rows = self.audit()
        for r in rows:
            self.assertIn(r['result'], DOCUMENTED_RESULTS, r)
            self.assertEqual(r['protocol'], 'pop3', r)


if __name__ == '__main__':
    unittest.main()
