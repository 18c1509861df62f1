"""Distribution: aliases, plus-addressing, catch-all, a second domain."""

import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RawSMTP, ServerTestCase, assert_stored, message, token  # noqa

ALICE = 'alice@example.test'
BOB = 'bob@example.test'
CAROL = 'carol@example.test'
DAVE = 'dave@other.test'


def setup(srv):
    srv.run('domain', 'add', 'other.test')
    srv.add_account(DAVE)
    srv.accounts[DAVE] = 'x'
    srv.run('alias', 'add', 'team@example.test', ALICE, BOB)
    srv.run('alias', 'add', 'info@other.test', CAROL)
    srv.run('domain', 'catchall', 'example.test', ALICE)


class SmtpRouting(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB, CAROL], setup=setup)

    def send(self, rcpts, t=None, sender='router@remote.test'):
        t = t or token()
        msg = message(t, to=rcpts[0])
        s = smtplib.SMTP('127.0.0.1', self.srv.smtp_port, local_hostname='client.remote.test',
                         timeout=10)
        try:
            refused = s.sendmail(sender, rcpts, msg)
            s.quit()
        finally:
            s.close()
        self.assertEqual(refused, {})
        return t, msg

    def expect(self, t, msg, got, not_got=()):
        for rc in got:
            found = self.srv.find(rc, t)
            self.assertEqual(len(found), 1, '%s should have exactly one copy, has %d'
                             % (rc, len(found)))
            assert_stored(found[0], 'router@remote.test', msg)
        for rc in not_got:
            self.assertEqual(self.srv.find(rc, t), [], '%s should not have the message' % rc)

    def test_alias_to_two_accounts(self):
        t, msg = self.send(['team@example.test'])
        self.expect(t, msg, [ALICE, BOB], [CAROL, DAVE])

    def test_alias_and_member_in_one_transaction_one_copy(self):
        # alice is addressed directly and through the alias: she must not get two copies.
        t, msg = self.send(['team@example.test', ALICE])
        self.expect(t, msg, [ALICE, BOB], [CAROL])

    def test_alias_across_domains(self):
        t, msg = self.send(['info@other.test'])
        self.expect(t, msg, [CAROL], [ALICE, BOB, DAVE])

    def test_plus_addressing(self):
        t, msg = self.send(['bob+shop@example.test'])
        self.expect(t, msg, [BOB], [ALICE, CAROL])

    def test_plus_addressing_alice(self):
        t, msg = self.send(['alice+shop@example.test'])
        self.expect(t, msg, [ALICE], [BOB, CAROL])

    def test_catchall(self):
        t, msg = self.send(['whoever-' + token().lower() + '@example.test'])
        self.expect(t, msg, [ALICE], [BOB, CAROL, DAVE])

    def test_catchall_does_not_steal_existing_accounts(self):
        t, msg = self.send([CAROL])
        self.expect(t, msg, [CAROL], [ALICE, BOB])

    def test_second_domain(self):
        t, msg = self.send([DAVE])
        self.expect(t, msg, [DAVE], [ALICE, BOB, CAROL])

    def test_second_domain_has_no_catchall(self):
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<router@remote.test>').code, 250)
            r = c.cmd('RCPT TO:<nobody@other.test>')
            self.assertEqual((r.code, r.enhanced), (550, '5.1.1'), r)

    def test_account_list_shows_usage(self):
        # CLI side of the same store: every account the tests created is listed.
        out = self.srv.run('account', 'list').stdout.decode()
        for a in (ALICE, BOB, CAROL, DAVE):
            self.assertIn(a, out)


if __name__ == '__main__':
    unittest.main()
