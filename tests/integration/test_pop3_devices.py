"""Devices and app passwords: the safety net of per-device deletion (docs/pop3.md).

A message one device deleted stays for the other devices and in `yubin export` until every
device (app passwords not revoked + the account password when it is on) deleted it, or
keep-days after the first deletion (`yubin expire` with YUBIN_NOW moved ahead); with
pop3-delete expunge a DELE removes it for everybody; a revoked app password stops at once."""

import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, DEFAULT_PASSWORD, ServerTestCase, assert_stored  # noqa: E402
from pop3_common import (SENDER, RawPOP3, account_show, app_password_add,  # noqa: E402
                         assert_err, assert_ok, deleted_but_kept, deliver, pop, quit_,
                         retr_bytes, stored_by_marker)

DOMAIN = 'example.test'
DAY = 86400


def acct(name):
    return '%s@%s' % (name, DOMAIN)


ACCOUNTS = [acct(n) for n in ('alice', 'off', 'keep', 'keep0', 'expunge', 'revoke', 'listing',
                              'setdefault', 'revokeall')]


class Pop3Devices(ServerTestCase, unittest.TestCase):
    # Failed logins (revoked/off passwords) slow the next ones down: keep that short.
    SERVER_ARGS = dict(accounts=ACCOUNTS, config={'auth-max-delay': 1})

    def setup_account(self, addr, n_messages, labels=('A', 'B')):
        pws = {label: app_password_add(self.srv, addr, label) for label in labels}
        self.assertEqual(len(set(pws.values())), len(pws), 'two app passwords are equal')
        for pw in pws.values():
            self.assertRegex(pw, r'^[A-Za-z0-9]{4}(-[A-Za-z0-9]{4}){3}$',
                             'app password not printed as xxxx-xxxx-xxxx-xxxx')
        sent = [deliver(self.srv, addr) for _ in range(n_messages)]
        stored = stored_by_marker(self.srv, addr)
        self.assertEqual(len(stored), n_messages)
        for marker, msg in sent:
            assert_stored(stored[marker], SENDER, msg)
        return pws, sent, stored

    def download_all(self, addr, pw, dele=False):
        """One device's session: RETR (and DELE) everything, QUIT. Returns {marker: bytes}."""
        p = pop(self.srv, addr, pw)
        count, _ = p.stat()
        got = {}
        for n in range(1, count + 1):
            data, _ = retr_bytes(p, n)
            marker = re.search(rb'marker (T[0-9a-f]{16})', data).group(1).decode()
            got[marker] = data
            if dele:
                assert_ok(p.dele(n))
        quit_(p)
        return got

    def count(self, addr, pw):
        p = pop(self.srv, addr, pw)
        n = p.stat()[0]
        quit_(p)
        return n

    def login_fails(self, addr, pw, code='AUTH'):
        with RawPOP3(self.srv.pop3_port, timeout=15) as c:
            r = c.cmd('USER ' + addr)
            if r.startswith('+OK'):
                r = c.cmd('PASS ' + pw)
            return assert_err(r, code)

    def expire(self, now=None):
        env = dict(os.environ)
        if now is not None:
            env['YUBIN_NOW'] = str(int(now))
        cp = subprocess.run([BIN, 'expire', '--data', self.srv.data], env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        self.assertEqual(cp.returncode, 0, 'yubin expire: %r %r' % (cp.stdout, cp.stderr))
        return cp

    def set(self, addr, key, value):
        self.srv.run('account', 'set', addr, key, value)

    # ---- the story ------------------------------------------------------------------------
    def test_safety_net_story(self):
        addr = acct('alice')
        pws, sent, stored = self.setup_account(addr, 3)
        total = sum(len(m) for m in stored.values())
        show = account_show(self.srv, addr)
        self.assertRegex(show, r'(?m)^pop3-delete: per-device\b', show)
        self.assertRegex(show, r'(?m)^keep-days: 30\b', show)
        self.assertRegex(show, r'(?m)^account-password: on\b', show)
        for label in ('A', 'B'):
            self.assertRegex(show, r'(?m)^device: %s\b' % label, show)
        self.assertEqual(deleted_but_kept(self.srv, addr), (0, 0))
        # Device A downloads and deletes everything.
        got_a = self.download_all(addr, pws['A'], dele=True)
        self.assertEqual(got_a, stored)
        self.assertEqual(self.count(addr, pws['A']), 0, 'A still sees what it deleted')
        # Device B still sees and downloads all three, byte for byte.
        p = pop(self.srv, addr, pws['B'])
        self.assertEqual(p.stat(), (3, total), 'device B lost messages A deleted')
        quit_(p)
        self.assertEqual(self.download_all(addr, pws['B']), stored)
        self.assertEqual(stored_by_marker(self.srv, addr), stored, 'export lost messages')
        self.assertEqual(deleted_but_kept(self.srv, addr), (3, total))
        # B deletes them too; the account password is a device as well and has not.
        self.download_all(addr, pws['B'], dele=True)
        self.assertEqual(self.count(addr, pws['B']), 0)
        self.assertEqual(stored_by_marker(self.srv, addr), stored,
                         'gone although the account password device did not delete them')
        self.assertEqual(deleted_but_kept(self.srv, addr), (3, total))
        # The account password device deletes: now they are gone for real.
        self.assertEqual(self.download_all(addr, DEFAULT_PASSWORD, dele=True), stored)
        self.assertEqual(stored_by_marker(self.srv, addr), {},
                         'still in the store after every device deleted')
        self.assertEqual(deleted_but_kept(self.srv, addr), (0, 0))
        for pw in (pws['A'], pws['B'], DEFAULT_PASSWORD):
            self.assertEqual(self.count(addr, pw), 0)
        # New mail after all that reaches every device.
        marker, msg = deliver(self.srv, addr)
        for pw in (pws['A'], pws['B'], DEFAULT_PASSWORD):
            self.assertEqual(self.count(addr, pw), 1)

    def test_account_password_off(self):
        addr = acct('off')
        pws, sent, stored = self.setup_account(addr, 3)
        self.set(addr, 'account-password', 'off')
        self.assertRegex(account_show(self.srv, addr), r'(?m)^account-password: off\b')
        self.login_fails(addr, DEFAULT_PASSWORD)
        self.assertEqual(self.download_all(addr, pws['A'], dele=True), stored)
        self.assertEqual(stored_by_marker(self.srv, addr), stored)
        self.assertEqual(self.count(addr, pws['B']), 3)
        self.assertEqual(self.download_all(addr, pws['B'], dele=True), stored)
        self.assertEqual(stored_by_marker(self.srv, addr), {},
                         'every device deleted (account password off), still in export')
        self.assertEqual(deleted_but_kept(self.srv, addr)[0], 0)
        # Turned on again, the account password logs in (and sees nothing).
        self.set(addr, 'account-password', 'on')
        self.assertEqual(self.count(addr, DEFAULT_PASSWORD), 0)

    def test_keep_days_expiry(self):
        addr = acct('keep')
        pws, sent, stored = self.setup_account(addr, 2)
        self.set(addr, 'keep-days', '30')
        first, second = sent[0][0], sent[1][0]
        # A deletes only the first message.
        p = pop(self.srv, addr, pws['A'])
        data, _ = retr_bytes(p, 1)
        self.assertIn(first.encode(), data)
        assert_ok(p.dele(1))
        quit_(p)
        now = time.time()
        self.expire(now + 29 * DAY)
        self.assertEqual(stored_by_marker(self.srv, addr), stored,
                         'expired after 29 days with keep-days 30')
        self.assertEqual(self.count(addr, pws['B']), 2)
        self.expire(now + 31 * DAY)
        left = stored_by_marker(self.srv, addr)
        self.assertEqual(sorted(left), [second],
                         'after 31 days only the message nobody deleted should be left')
        for pw in (pws['A'], pws['B'], DEFAULT_PASSWORD):
            p = pop(self.srv, addr, pw)
            self.assertEqual(p.stat(), (1, len(stored[second])))
            data, _ = retr_bytes(p, 1)
            self.assertEqual(data, stored[second])
            quit_(p)
        self.assertEqual(deleted_but_kept(self.srv, addr), (0, 0))

    def test_keep_days_zero_keeps_until_every_device(self):
        addr = acct('keep0')
        pws, sent, stored = self.setup_account(addr, 1)
        self.set(addr, 'keep-days', '0')
        self.assertRegex(account_show(self.srv, addr), r'(?m)^keep-days: 0\b')
        self.download_all(addr, pws['A'], dele=True)
        self.expire(time.time() + 3650 * DAY)
        self.assertEqual(stored_by_marker(self.srv, addr), stored,
                         'keep-days 0 must keep the message until every device deleted it')
        self.assertEqual(self.count(addr, pws['B']), 1)

    def test_keep_days_default(self):
        addr = acct('setdefault')
        self.set(addr, 'keep-days', '7')
        self.assertRegex(account_show(self.srv, addr), r'(?m)^keep-days: 7\b')
        self.set(addr, 'keep-days', 'default')
        self.assertRegex(account_show(self.srv, addr), r'(?m)^keep-days: 30\b')
        self.set(addr, 'pop3-delete', 'expunge')
        self.assertRegex(account_show(self.srv, addr), r'(?m)^pop3-delete: expunge\b')
        self.set(addr, 'pop3-delete', 'default')
        self.assertRegex(account_show(self.srv, addr), r'(?m)^pop3-delete: per-device\b')
        for bad in (('keep-days', '-1'), ('keep-days', 'x'), ('pop3-delete', 'sometimes'),
                    ('account-password', 'maybe'), ('no-such-key', '1')):
            with self.subTest(bad=bad):
                cp = self.srv.run('account', 'set', addr, *bad, check=False)
                self.assertIn(cp.returncode, (1, 2), cp)
                self.assertTrue(cp.stderr.strip(), 'no message for a bad account set')

    def test_pop3_delete_expunge(self):
        addr = acct('expunge')
        pws, sent, stored = self.setup_account(addr, 3)
        self.set(addr, 'pop3-delete', 'expunge')
        self.assertRegex(account_show(self.srv, addr), r'(?m)^pop3-delete: expunge\b')
        p = pop(self.srv, addr, pws['A'])
        assert_ok(p.dele(2))
        # Before QUIT, nothing is gone for the others.
        self.assertEqual(self.count(addr, pws['B']), 3)
        quit_(p)
        self.assertEqual(self.count(addr, pws['B']), 2)
        self.assertEqual(sorted(stored_by_marker(self.srv, addr)),
                         sorted([sent[0][0], sent[2][0]]))
        self.download_all(addr, pws['A'], dele=True)
        p = pop(self.srv, addr, pws['B'])
        self.assertEqual(p.stat(), (0, 0), 'B still gets messages A expunged')
        quit_(p)
        self.assertEqual(stored_by_marker(self.srv, addr), {})
        self.assertEqual(deleted_but_kept(self.srv, addr)[0], 0)

    def test_revoked_app_password(self):
        addr = acct('revoke')
        pws, sent, stored = self.setup_account(addr, 1)
        self.assertEqual(self.count(addr, pws['A']), 1)
        self.srv.run('account', 'app-password', 'revoke', addr, 'A')
        self.login_fails(addr, pws['A'])
        # The others still work.
        self.assertEqual(self.count(addr, pws['B']), 1)
        self.assertEqual(self.count(addr, DEFAULT_PASSWORD), 1)
        listing = self.srv.run('account', 'app-password', 'list', addr).stdout.decode()
        labels = [l.split('\t')[0] for l in listing.splitlines() if l.strip()]
        self.assertIn('B', labels, listing)
        # Revoking an unknown label fails with a message.
        cp = self.srv.run('account', 'app-password', 'revoke', addr, 'no such device',
                          check=False)
        self.assertEqual(cp.returncode, 1)
        self.assertTrue(cp.stderr.strip())

    def test_revoked_device_no_longer_holds_messages(self):
        # A revoked device does not count among "every device": once the others deleted a
        # message, revoking the last one that did not lets the sweep expunge it.
        addr = acct('revokeall')
        pws, sent, stored = self.setup_account(addr, 1)
        self.set(addr, 'account-password', 'off')
        self.download_all(addr, pws['A'], dele=True)
        self.assertEqual(stored_by_marker(self.srv, addr), stored)
        self.srv.run('account', 'app-password', 'revoke', addr, 'B')
        self.expire()
        self.assertEqual(stored_by_marker(self.srv, addr), {},
                         'every remaining device deleted it, still stored after expire')

    def test_app_password_list_last_used(self):
        addr = acct('listing')
        pws, sent, stored = self.setup_account(addr, 1, labels=('Sato iPhone', 'Laptop'))
        p = pop(self.srv, addr, pws['Sato iPhone'])
        quit_(p)
        # "last used" is written a moment after the login: wait up to 3 s for it.
        deadline = time.monotonic() + 3
        while True:
            listing = self.srv.run('account', 'app-password', 'list', addr).stdout.decode()
            rows = {l.split('\t')[0]: l.split('\t') for l in listing.splitlines() if '\t' in l}
            if (rows.get('Sato iPhone', ['', '', 'never'])[2] != 'never'
                    or time.monotonic() > deadline):
                break
            time.sleep(0.05)
        self.assertIn('Sato iPhone', rows, listing)
        self.assertIn('Laptop', rows, listing)
        for label in ('Sato iPhone', 'Laptop'):
            self.assertEqual(len(rows[label]), 3, 'not label<TAB>created<TAB>last used: %r'
                             % rows[label])
        self.assertEqual(rows['Laptop'][2], 'never')
        self.assertRegex(rows['Sato iPhone'][2],
                         r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC pop3 127\.0\.0\.1$')
        when = time.strptime(rows['Sato iPhone'][2][:23], '%Y-%m-%d %H:%M:%S UTC')
        import calendar
        self.assertLess(abs(calendar.timegm(when) - time.time()), 120, rows['Sato iPhone'])
        show = account_show(self.srv, addr)
        self.assertRegex(show, r'(?m)^device: Sato iPhone\b', show)
        self.assertRegex(show, r'(?m)^device: Laptop\b', show)
        # Labels are unique per account.
        cp = self.srv.run('account', 'app-password', 'add', addr, '--label', 'Laptop',
                          check=False)
        self.assertEqual(cp.returncode, 1, 'a second device with the same label was created')
        self.assertNotIn(b'password: ', cp.stdout)


class Pop3GlobalPolicy(ServerTestCase, unittest.TestCase):
    """The pop3-delete and keep-days settings are the defaults of accounts that did not choose."""
    SERVER_ARGS = dict(accounts=[acct('classic'), acct('careful')],
                       config={'pop3-delete': 'expunge', 'keep-days': 2})

    def test_setting_expunge_and_per_account_override(self):
        classic, careful = acct('classic'), acct('careful')
        self.assertRegex(account_show(self.srv, classic), r'(?m)^pop3-delete: expunge\b')
        self.assertRegex(account_show(self.srv, classic), r'(?m)^keep-days: 2\b')
        pw = app_password_add(self.srv, classic, 'A')
        marker, _ = deliver(self.srv, classic)
        p = pop(self.srv, classic, pw)
        assert_ok(p.dele(1))
        quit_(p)
        self.assertEqual(stored_by_marker(self.srv, classic), {},
                         'pop3-delete = expunge (setting): DELE did not remove the message')
        # An account that chose per-device keeps the safety net.
        self.srv.run('account', 'set', careful, 'pop3-delete', 'per-device')
        pw = app_password_add(self.srv, careful, 'A')
        marker, _ = deliver(self.srv, careful)
        p = pop(self.srv, careful, pw)
        assert_ok(p.dele(1))
        quit_(p)
        self.assertEqual(sorted(stored_by_marker(self.srv, careful)), [marker])
        # keep-days = 2 from the setting: gone after 3 days, not after 1.
        env = dict(os.environ, YUBIN_NOW=str(int(time.time() + 1 * DAY)))
        subprocess.run([BIN, 'expire', '--data', self.srv.data], env=env, check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        self.assertEqual(sorted(stored_by_marker(self.srv, careful)), [marker])
        env['YUBIN_NOW'] = str(int(time.time() + 3 * DAY))
        subprocess.run([BIN, 'expire', '--data', self.srv.data], env=env, check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        self.assertEqual(stored_by_marker(self.srv, careful), {},
                         'keep-days = 2 (setting): still stored 3 days after the deletion')


if __name__ == '__main__':
    unittest.main()
