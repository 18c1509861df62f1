"""The operator's commands: export to mbox (mboxrd) and Maildir read back by Python's mailbox
module, init with an existing certificate, refusing a second init, account/alias/domain
management and the errors they print."""

import mailbox
import os
import smtplib
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BIN, Server, ServerTestCase, message, split_stored, token,  # noqa
                     yubin)

ALICE = 'alice@example.test'
BOB = 'bob@example.test'


def mboxrd_messages(raw):
    """Splits an mboxrd file and undoes its quoting: the exact inverse of the writer."""
    msgs, cur = [], None
    for line in raw.split(b'\n'):
        if line.startswith(b'From '):
            if cur is not None:
                msgs.append(cur)
            cur = []
            continue
        stripped = line.lstrip(b'>')
        if stripped.startswith(b'From ') and line.startswith(b'>'):
            line = line[1:]
        cur.append(line)
    if cur is not None:
        msgs.append(cur)
    # Each message ends with the blank separator line plus the final newline's empty piece.
    out = []
    for i, lines in enumerate(msgs):
        while lines and lines[-1] == b'':
            lines.pop()
        out.append(b'\r\n'.join(lines) + b'\r\n')
    return out


class Export(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB])

    def send(self, body):
        t = token()
        msg = message(t, body=body)
        with smtplib.SMTP('127.0.0.1', self.srv.smtp_port, timeout=10) as s:
            s.sendmail('sender@remote.test', [ALICE], msg)
        return t, msg

    def test_mbox_export_is_reversible_and_readable(self):
        tricky = (b'From the start of a line\r\n>From already quoted\r\n>>From twice\r\n'
                  b'Fromage is not quoted\r\n\r\nend\r\n')
        t1, m1 = self.send(tricky)
        t2, m2 = self.send(b'second message\r\n')
        out = os.path.join(self.srv.parent, 'alice.mbox')
        self.srv.run('export', ALICE, '--mbox', out)
        raw = open(out, 'rb').read()
        self.assertIn(b'\n>From the start', raw)
        self.assertIn(b'\n>>From already quoted', raw)
        self.assertIn(b'\n>>>From twice', raw)
        self.assertIn(b'\nFromage', raw)
        back = mboxrd_messages(raw)
        stored = self.srv.export_maildir(ALICE)
        self.assertEqual(len(back), len(stored))
        for b, s in zip(back, stored):
            self.assertEqual(b, s, 'mbox round trip differs from the stored message')
        # A reader nobody here wrote sees the same messages and headers.
        box = mailbox.mbox(out)
        subjects = [m['Subject'] for m in box]
        self.assertEqual(len(subjects), len(stored))
        self.assertTrue(all(m.get_from().startswith('sender@remote.test ') for m in box))

    def test_maildir_export_readable_by_mailbox_module(self):
        t, m = self.send(b'maildir body\r\n')
        out = os.path.join(self.srv.parent, 'alice-md')
        self.srv.run('export', ALICE, '--maildir', out)
        md = mailbox.Maildir(out, factory=None, create=False)
        found = [key for key in md.keys() if t.encode() in md.get_bytes(key)]
        self.assertEqual(len(found), 1)
        # The file holds the message exactly as sent, after our two trace headers.
        self.assertTrue(md.get_bytes(found[0]).replace(b'\n', b'\r\n').endswith(m)
                        or open(os.path.join(out, md._toc[found[0]]), 'rb').read().endswith(m))
        files = os.listdir(os.path.join(out, 'cur'))
        self.assertTrue(all(':2,' in f for f in files), files)

    def test_export_unknown_account_fails_clearly(self):
        cp = self.srv.run('export', 'nobody@example.test', '--mbox',
                          os.path.join(self.srv.parent, 'x.mbox'), check=False)
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b'nobody@example.test', cp.stderr)

    def test_export_needs_exactly_one_format(self):
        cp = self.srv.run('export', ALICE, check=False)
        self.assertEqual(cp.returncode, 2)


class Admin(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE])

    def test_generated_password_printed_once(self):
        cp = subprocess.run([BIN, 'account', 'add', 'gen@example.test', '--data', self.srv.data],
                            stdin=subprocess.DEVNULL, capture_output=True)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        lines = [l for l in cp.stdout.decode().splitlines() if l.startswith('password: ')]
        self.assertEqual(len(lines), 1)
        self.assertGreaterEqual(len(lines[0].split(': ')[1]), 12)

    def test_account_errors_are_sentences(self):
        cp = self.srv.run('account', 'add', 'x@foreign.test', input='pw\n', check=False)
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b'yubin domain add foreign.test', cp.stderr)
        cp = self.srv.run('account', 'add', 'not-an-address', input='pw\n', check=False)
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b'not a valid mail address', cp.stderr)
        cp = self.srv.run('account', 'add', ALICE, input='pw\n', check=False)
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b'already exists', cp.stderr)
        cp = self.srv.run('account', 'del', 'ghost@example.test', check=False)
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b'no such account', cp.stderr)

    def test_account_del_removes_mail_and_keeps_store_consistent(self):
        self.srv.run('account', 'add', 'temp@example.test', input='pw\n')
        with smtplib.SMTP('127.0.0.1', self.srv.smtp_port, timeout=10) as s:
            s.sendmail('a@remote.test', ['temp@example.test', ALICE], message(token()))
        self.srv.run('account', 'del', 'temp@example.test')
        self.srv.check()
        with smtplib.SMTP('127.0.0.1', self.srv.smtp_port, timeout=10) as s:
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
                s.sendmail('a@remote.test', ['temp@example.test'], message(token()))
            code, text = cm.exception.recipients['temp@example.test']
            self.assertEqual(code, 550)
            self.assertTrue(text.startswith(b'5.1.1'))

    def test_alias_and_domain_listing_and_removal(self):
        self.srv.run('alias', 'add', 'sales@example.test', ALICE)
        out = self.srv.run('alias', 'list').stdout.decode()
        self.assertIn('sales@example.test\talice@example.test', out)
        # Forwarding to another domain: allowed, with a word about SPF; the local part keeps
        # its case (it may matter there). An address literal is no place to forward to.
        cp = self.srv.run('alias', 'add', 'fwd@example.test', 'X.Y@foreign.test', check=False)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(b'SPF', cp.stdout)
        self.assertIn('fwd@example.test\tX.Y@foreign.test', self.srv.run('alias', 'list').stdout.decode())
        cp = self.srv.run('alias', 'add', 'lit@example.test', 'x@[192.0.2.1]', check=False)
        self.assertEqual(cp.returncode, 1)
        self.srv.run('alias', 'del', 'fwd@example.test', 'x.y@foreign.test')
        self.assertNotIn('fwd@', self.srv.run('alias', 'list').stdout.decode())
        self.srv.run('alias', 'del', 'sales@example.test')
        self.assertNotIn('sales@', self.srv.run('alias', 'list').stdout.decode())
        self.srv.run('domain', 'add', 'third.test')
        self.assertIn('third.test', self.srv.run('domain', 'list').stdout.decode())
        self.srv.run('domain', 'del', 'third.test')
        self.assertNotIn('third.test', self.srv.run('domain', 'list').stdout.decode())


class Init(unittest.TestCase):
    def test_second_init_refused(self):
        parent = tempfile.mkdtemp(prefix='yubin-init-')
        os.chmod(parent, 0o755)
        data = os.path.join(parent, 'd')
        cp = yubin('init', '--data', data, '--domain', 'example.test')
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out = cp.stdout.decode()
        self.assertIn('MX    10 mail.example.test.', out)
        cp = yubin('init', '--data', data, '--domain', 'example.test')
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b'already set up', cp.stderr)
        conf = open(os.path.join(data, 'yubin.conf')).read()
        self.assertIn('#max-message-size = 26214400', conf)
        self.assertIn('hostname = mail.example.test', conf)

    def test_bad_port_offset_refused(self):
        parent = tempfile.mkdtemp(prefix='yubin-init-')
        cp = yubin('init', '--data', os.path.join(parent, 'd'), '--domain', 'example.test',
                   '--port-offset', 'ten')
        self.assertEqual(cp.returncode, 2)
        self.assertIn(b'whole number', cp.stderr)

    def test_existing_certificate_is_used(self):
        parent = tempfile.mkdtemp(prefix='yubin-cert-')
        os.chmod(parent, 0o755)
        cert, key = os.path.join(parent, 'c.pem'), os.path.join(parent, 'k.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
                        '-subj', '/CN=mx.custom.test', '-keyout', key, '-out', cert],
                       check=True, capture_output=True)
        os.chmod(key, 0o644)
        with Server(accounts=[ALICE], init_args=['--cert', cert, '--key', key,
                                                 '--hostname', 'mx.custom.test']) as srv:
            with smtplib.SMTP('127.0.0.1', srv.smtp_port, timeout=10) as s:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s.starttls(context=ctx)
                der = s.sock.getpeercert(binary_form=True)
            self.assertEqual(der, ssl.PEM_cert_to_DER_cert(open(cert).read()))
            self.assertFalse(os.path.exists(os.path.join(srv.data, 'tls', 'cert.pem')))


if __name__ == '__main__':
    unittest.main()
