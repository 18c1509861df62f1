"""A store that cannot be read at login must not look like a wrong password (issue 9, item 5).

With the backend's fault hook (YUBIN_FAULT_FILE naming `login_lookup`), a login with the right
password gets the protocol's "try again later" reply (IMAP NO [UNAVAILABLE], POP3 -ERR
[SYS/TEMP], SMTP 454 4.7.0) with a sentence, is not counted as a failure for the throttle, and
is audited as `unavailable`; once the fault clears, the same password logs in at once."""

import imaplib
import os
import poplib
import smtplib
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEFAULT_PASSWORD, IO_TIMEOUT, ServerTestCase  # noqa: E402

USER = 'alice@example.test'


class LoginStoreErrors(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[USER])

    @classmethod
    def setUpClass(cls):
        cls.fault_dir = tempfile.mkdtemp(prefix='yubin-fault-')
        os.chmod(cls.fault_dir, 0o755)  # the server reads it after dropping privileges
        cls.fault_file = os.path.join(cls.fault_dir, 'fail')
        old = os.environ.get('YUBIN_FAULT_FILE')
        os.environ['YUBIN_FAULT_FILE'] = cls.fault_file
        try:
            super().setUpClass()
        finally:
            if old is None:
                del os.environ['YUBIN_FAULT_FILE']
            else:
                os.environ['YUBIN_FAULT_FILE'] = old

    @classmethod
    def tearDownClass(cls):
        if os.path.exists(cls.fault_file):
            os.unlink(cls.fault_file)
        try:
            super().tearDownClass()
        finally:
            os.rmdir(cls.fault_dir)

    def set_fault(self, on):
        if on:
            with open(self.fault_file, 'w') as f:
                f.write('login_lookup\n')
            os.chmod(self.fault_file, 0o644)
        elif os.path.exists(self.fault_file):
            os.unlink(self.fault_file)

    def setUp(self):
        self.addCleanup(self.set_fault, False)

    def test_imap_login_says_try_later_not_wrong_password(self):
        self.set_fault(True)
        c = imaplib.IMAP4('127.0.0.1', self.srv.imap_port, timeout=IO_TIMEOUT)
        try:
            typ, data = c._simple_command('LOGIN', USER, DEFAULT_PASSWORD)
        finally:
            c.shutdown()
        self.assertEqual(typ, 'NO', data)
        text = data[0].decode()
        self.assertIn('[UNAVAILABLE]', text)
        self.assertIn('storage problem', text)
        self.assertNotIn('AUTHENTICATIONFAILED', text)
        self.set_fault(False)
        c = imaplib.IMAP4('127.0.0.1', self.srv.imap_port, timeout=IO_TIMEOUT)
        t0 = time.monotonic()
        self.assertEqual(c.login(USER, DEFAULT_PASSWORD)[0], 'OK')
        # Not counted as a failure: no throttle delay on the next, right attempt.
        self.assertLess(time.monotonic() - t0, 2.0)
        c.logout()

    def test_pop3_and_smtp_too(self):
        self.set_fault(True)
        p = poplib.POP3('127.0.0.1', self.srv.pop3_port, timeout=IO_TIMEOUT)
        p.user(USER)
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_(DEFAULT_PASSWORD)
        self.assertIn(b'[SYS/TEMP]', cm.exception.args[0])
        self.assertIn(b'storage problem', cm.exception.args[0])
        p.close()
        with smtplib.SMTP('127.0.0.1', self.srv.smtp_port + 562, timeout=IO_TIMEOUT) as s:
            s.ehlo()
            with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                s.login(USER, DEFAULT_PASSWORD)
            self.assertEqual(cm.exception.smtp_code, 454)
            self.assertIn(b'4.7.0', cm.exception.smtp_error)
        self.set_fault(False)
        audit = self.srv.run('audit', '--account', USER).stdout.decode()
        self.assertIn('result=unavailable', audit)
        self.assertNotIn('result=bad-password', audit)
        p = poplib.POP3('127.0.0.1', self.srv.pop3_port, timeout=IO_TIMEOUT)
        p.user(USER)
        self.assertTrue(p.pass_(DEFAULT_PASSWORD).startswith(b'+OK'))
        p.quit()


if __name__ == '__main__':
    unittest.main()
