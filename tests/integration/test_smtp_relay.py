"""Unknown users and relay attempts: nothing for a foreign domain is accepted or stored."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RawSMTP, ServerTestCase, assert_serves, assert_stored, dot_stuff,  # noqa
                     message, token)

ALICE = 'alice@example.test'
USER = 'user@example.test'
POSTMASTER = 'postmaster@example.test'

# Tricky recipient forms that old MTAs turned into relaying (all must be refused).
TRICKY = [
    'user%foreign.test@example.test',           # percent hack
    '@example.test:user@foreign.test',          # source route (RFC 5321: ignore the route)
    '@example.test,@other.example:user@foreign.test',
    '"user@foreign.test"@example.test',          # quoted local part with @
    'foreign.test!user@example.test',            # bang path
    'user@foreign.test@example.test',            # two @
    'user@foreign.test.',                        # trailing dot
    'user@example.test.foreign.test',            # local domain as a prefix
]


class SmtpRelay(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, USER, POSTMASTER])

    def session(self):
        c = RawSMTP(self.srv.smtp_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertEqual(c.cmd('MAIL FROM:<relay@remote.test>').code, 250)
        return c

    def assert_nowhere(self, t):
        self.assertEqual(self.srv.find_anywhere(t), {}, 'message stored somewhere')

    def test_unknown_user_550_5_1_1(self):
        c = self.session()
        r = c.cmd('RCPT TO:<nosuchuser@example.test>')
        self.assertEqual((r.code, r.enhanced), (550, '5.1.1'), r)
        assert_serves(self, self.srv)

    def test_relay_denied_554_5_7_1(self):
        c = self.session()
        r = c.cmd('RCPT TO:<user@foreign.test>')
        self.assertEqual((r.code, r.enhanced), (554, '5.7.1'), r)
        assert_serves(self, self.srv)

    def test_no_valid_recipient_then_data_refused(self):
        t = token()
        c = self.session()
        self.assertEqual(c.cmd('RCPT TO:<user@foreign.test>').code, 554)
        self.assertEqual(c.cmd('RCPT TO:<nosuchuser@example.test>').code, 550)
        r = c.cmd('DATA')
        self.assertIn(r.code, (503, 554), 'DATA without a valid recipient: %r' % r)
        if r.code == 354:  # pragma: no cover - finish so we can see where it went
            c.send(dot_stuff(message(t)) + b'.\r\n')
            c.reply()
        self.assertEqual(c.cmd('NOOP').code, 250)
        self.assert_nowhere(t)

    def test_foreign_and_local_in_one_transaction(self):
        t = token()
        msg = message(t)
        c = self.session()
        r = c.cmd('RCPT TO:<user@foreign.test>')
        self.assertEqual((r.code, r.enhanced), (554, '5.7.1'), r)
        self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
        self.assertEqual(c.cmd('DATA').code, 354)
        c.send(dot_stuff(msg) + b'.\r\n')
        self.assertEqual(c.reply().code, 250)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'relay@remote.test', msg)
        self.assertEqual(self.srv.find(USER, t), [])

    def test_tricky_relay_forms_refused(self):
        t = token()
        accepted = []
        for addr in TRICKY:
            c = self.session()
            r = c.cmd('RCPT TO:<%s>' % addr)
            if not 500 <= r.code < 600:
                accepted.append((addr, r))
                # Finish the transaction so the report can show where it would have gone.
                if r.code == 250 and c.cmd('DATA').code == 354:
                    c.send(dot_stuff(message(t, to=addr)) + b'.\r\n')
                    accepted.append(('  end of data', c.reply()))
            c.cmd('QUIT')
        self.assertEqual(accepted, [], 'relay-like recipients not refused with 5xx')
        self.assert_nowhere(t)
        assert_serves(self, self.srv)

    def test_postmaster_without_domain(self):
        # RFC 5321 4.5.1: <Postmaster> without domain must be accepted (as postmaster@ the
        # primary domain).
        t = token()
        msg = message(t)
        c = self.session()
        r = c.cmd('RCPT TO:<Postmaster>')
        self.assertEqual(r.code, 250, r)
        self.assertEqual(c.cmd('DATA').code, 354)
        c.send(dot_stuff(msg) + b'.\r\n')
        self.assertEqual(c.reply().code, 250)
        found = self.srv.find(POSTMASTER, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'relay@remote.test', msg)

    def test_vrfy_252(self):
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            for who in ('alice', ALICE, 'nosuchuser@example.test', 'user@foreign.test'):
                r = c.cmd('VRFY ' + who)
                self.assertEqual((r.code, r.enhanced), (252, '2.5.0'), (who, r))
        assert_serves(self, self.srv)


if __name__ == '__main__':
    unittest.main()
