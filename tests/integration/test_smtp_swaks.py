"""swaks (a real SMTP client) against yubin: plain, STARTTLS, pipelining, 8-bit body."""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ServerTestCase, assert_stored, ensure_debian_package, message,  # noqa
                     token)

ALICE = 'alice@example.test'
BOB = 'bob@example.test'


class SmtpSwaks(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB])

    @classmethod
    def setUpClass(cls):
        cls.swaks = ensure_debian_package('swaks', 'swaks')
        if not cls.swaks:
            raise AssertionError('swaks is not installed and apt-get install swaks failed')
        super().setUpClass()

    def run_swaks(self, msg, *extra, to=ALICE, sender='swaks@remote.test'):
        """swaks sends a data file as is (CRLF kept) and ends it with CRLF . CRLF, so the
        file must not end in a newline; the stored message is msg + CRLF."""
        self.assertFalse(msg.endswith(b'\n'))
        fd, path = tempfile.mkstemp(suffix='.eml')
        self.addCleanup(os.unlink, path)
        with os.fdopen(fd, 'wb') as f:
            f.write(msg)
        cp = subprocess.run([self.swaks, '--server', '127.0.0.1', '--port', str(self.srv.smtp_port),
                             '--from', sender, '--to', to, '--helo', 'swaks.remote.test',
                             '--data', '@' + path, '--timeout', '10', *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = cp.stdout.decode(errors='replace')
        self.assertEqual(cp.returncode, 0, 'swaks failed:\n' + out)
        return out

    def check_one(self, rcpt, t, sent, sender='swaks@remote.test'):
        found = self.srv.find(rcpt, t)
        self.assertEqual(len(found), 1, rcpt)
        return assert_stored(found[0], sender, sent)

    def test_plain(self):
        t = token()
        msg = message(t)[:-2]
        out = self.run_swaks(msg)
        self.assertIn('250 2.0.0', out)
        self.check_one(ALICE, t, msg + b'\r\n')

    def test_two_recipients(self):
        t = token()
        msg = message(t)[:-2]
        self.run_swaks(msg, to=ALICE + ',' + BOB)
        for rc in (ALICE, BOB):
            self.check_one(rc, t, msg + b'\r\n')

    def test_starttls(self):
        t = token()
        msg = message(t)[:-2]
        out = self.run_swaks(msg, '-tls')
        self.assertIn('220 2.0.0', out)
        self.assertIn('TLS started', out)
        received = self.check_one(ALICE, t, msg + b'\r\n')
        self.assertRegex(received, r'TLSv1\.[23]')

    def test_pipeline(self):
        t = token()
        msg = message(t, body=b'.leading dot\r\n..two\r\nmarker ' + t.encode())
        out = self.run_swaks(msg, '--pipeline', to=ALICE + ',' + BOB)
        self.assertIn('PIPELINING', out)
        for rc in (ALICE, BOB):
            self.check_one(rc, t, msg + b'\r\n')

    def test_8bit_body(self):
        t = token()
        body = ('Gr\u00fc\u00dfe aus M\u00fcnchen, \u65e5\u672c\u8a9e\r\n'
                'marker ' + t).encode('utf-8') + b'\r\nraw latin1 \xe9\xe0\xff'
        msg = message(t, body=body, extra_headers=b'MIME-Version: 1.0\r\n'
                      b'Content-Type: text/plain; charset=utf-8\r\n'
                      b'Content-Transfer-Encoding: 8bit\r\n')
        self.run_swaks(msg, '--pipeline', '-tls')
        self.check_one(ALICE, t, msg + b'\r\n')

    def test_unknown_recipient_reported(self):
        cp = subprocess.run([self.swaks, '--server', '127.0.0.1', '--port', str(self.srv.smtp_port),
                             '--from', 'swaks@remote.test', '--to', 'nobody@example.test',
                             '--timeout', '10'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = cp.stdout.decode(errors='replace')
        self.assertNotEqual(cp.returncode, 0, out)
        self.assertIn('550 5.1.1', out)


if __name__ == '__main__':
    unittest.main()
