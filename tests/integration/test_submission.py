"""Submission (RFC 6409) on 587 with STARTTLS and 465 with TLS (RFC 8314): staff's mail apps
log in (AUTH PLAIN / LOGIN, RFC 4954), may send only as their own addresses, get Message-ID and
Date added, and can reach local mailboxes. Driven by smtplib, swaks and msmtp."""

import imaplib
import os
import re
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_PASSWORD, ServerTestCase, Server, ensure_debian_package,  # noqa
                     message, token)

ALICE = 'alice@example.test'
BOB = 'bob@example.test'


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Submission(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB],
                       setup=lambda srv: srv.run('alias', 'add', 'sales@example.test', ALICE))

    @property
    def port587(self):
        return self.srv.port_offset + 587

    @property
    def port465(self):
        return self.srv.port_offset + 465

    def starttls(self):
        s = smtplib.SMTP('127.0.0.1', self.port587, timeout=10)
        self.addCleanup(s.close)
        s.starttls(context=tls_ctx())
        s.ehlo()
        return s

    def test_auth_plain_587_starttls_delivers_locally(self):
        s = self.starttls()
        s.ehlo()
        self.assertIn('PLAIN', s.esmtp_features.get('auth', ''))
        s.login(ALICE, DEFAULT_PASSWORD)
        t = token()
        s.sendmail(ALICE, [BOB], message(t, sender=ALICE, to=BOB))
        got = self.srv.find(BOB, t)
        self.assertEqual(len(got), 1)
        self.assertRegex(got[0].decode(errors='replace'), r'with ESMTPSA')

    def test_auth_login_465_tls(self):
        s = smtplib.SMTP_SSL('127.0.0.1', self.port465, timeout=10, context=tls_ctx())
        self.addCleanup(s.close)
        s.ehlo()
        s.esmtp_features['auth'] = 'LOGIN'   # make smtplib pick LOGIN
        s.login(ALICE, DEFAULT_PASSWORD)
        t = token()
        s.sendmail('sales@example.test', [BOB], message(t, sender='sales@example.test', to=BOB))
        self.assertEqual(len(self.srv.find(BOB, t)), 1)

    def test_sender_must_be_own_address(self):
        s = self.starttls()
        s.login(ALICE, DEFAULT_PASSWORD)
        for sender in (BOB, 'nobody@example.test', 'ceo@foreign.test', ''):
            code, text = s.mail(sender)
            self.assertEqual(code, 550, (sender, code, text))
            self.assertTrue(text.startswith(b'5.7.1'), text)
            self.assertIn(ALICE.encode(), text)
            s.rset()
        code, text = s.mail('alice+newsletter@example.test')
        self.assertEqual(code, 250, text)

    def test_login_required_and_wrong_password(self):
        s = self.starttls()
        code, text = s.mail(ALICE)
        self.assertEqual(code, 530, text)
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            s.login(ALICE, 'wrong password')
        self.assertEqual(cm.exception.smtp_code, 535)
        self.assertIn(b'5.7.8', cm.exception.smtp_error)

    def test_other_domains_are_queued(self):
        s = self.starttls()
        s.login(ALICE, DEFAULT_PASSWORD)
        s.mail(ALICE)
        code, text = s.rcpt('someone@foreign.test')
        self.assertEqual(code, 250, text)
        self.assertIn(b'foreign.test', text)
        code, text = s.rcpt(BOB)
        self.assertEqual(code, 250, text)
        t = token()
        code, text = s.data(message(t, sender=ALICE, to='someone@foreign.test'))
        self.assertEqual(code, 250, text)
        # The local copy is there at once; the other one waits in the queue.
        self.assertEqual(len(self.srv.find(BOB, t)), 1)
        listing = self.srv.run('queue', 'list').stdout.decode()
        self.assertRegex(listing, r'\tforeign\.test\t<alice@example\.test>\tsomeone@foreign\.test\t')
        self.srv.check()

    def test_message_id_and_date_added(self):
        s = self.starttls()
        s.login(ALICE, DEFAULT_PASSWORD)
        t = token()
        bare = b'From: ' + ALICE.encode() + b'\r\nTo: ' + BOB.encode() + \
            b'\r\nSubject: ' + t.encode() + b'\r\n\r\nno id, no date\r\n'
        s.sendmail(ALICE, [BOB], bare)
        stored = self.srv.find(BOB, t)[0]
        self.assertRegex(stored, rb'\r\nMessage-ID: <[0-9a-f]{24}@[^>]+>\r\n')
        self.assertRegex(stored, rb'\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} ')
        self.assertTrue(stored.endswith(bare))
        # A message that has them keeps its own.
        t2 = token()
        s.sendmail(ALICE, [BOB], message(t2, sender=ALICE, to=BOB))
        stored = self.srv.find(BOB, t2)[0]
        self.assertEqual(len(re.findall(rb'\r\nMessage-I[Dd]:', b'\r\n' + stored)), 1)

    def test_no_auth_on_port_25(self):
        s = smtplib.SMTP('127.0.0.1', self.srv.smtp_port, timeout=10)
        self.addCleanup(s.close)
        s.ehlo()
        self.assertNotIn('auth', s.esmtp_features)
        code, text = s.docmd('AUTH', 'PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=')
        self.assertEqual(code, 503, text)

    def test_app_password_and_audit(self):
        out = self.srv.run('account', 'app-password', 'add', ALICE, '--label', 'Laptop').stdout
        pw = re.search(rb'password: (\S+)', out).group(1).decode()
        s = self.starttls()
        s.login(ALICE, pw)
        # The audit line is written by the writer thread just after the reply: allow a moment.
        pattern = r'device="Laptop" protocol=smtp ip=127\.0\.0\.1 tls=yes result=ok'
        deadline = time.monotonic() + 3
        while True:
            audit = self.srv.run('audit', '--account', ALICE).stdout.decode()
            if re.search(pattern, audit) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertRegex(audit, pattern)

    def test_swaks_and_msmtp(self):
        t = token()
        cp = subprocess.run(['swaks', '--server', '127.0.0.1:%d' % self.port587, '-tls',
                             '--auth', 'PLAIN', '--auth-user', ALICE,
                             '--auth-password', DEFAULT_PASSWORD, '--from', ALICE, '--to', BOB,
                             '--header', 'Subject: ' + t], capture_output=True, timeout=30)
        self.assertEqual(cp.returncode, 0, cp.stdout[-800:])
        self.assertEqual(len(self.srv.find(BOB, t)), 1)
        msmtp = ensure_debian_package('msmtp', 'msmtp')
        self.assertTrue(msmtp, 'msmtp is not installed and could not be')
        with tempfile.TemporaryDirectory() as home:
            rc = os.path.join(home, 'msmtprc')
            with open(rc, 'w') as f:
                f.write('account default\nhost 127.0.0.1\nport %d\ntls on\ntls_starttls off\n'
                        'tls_certcheck off\nauth on\nuser %s\npassword %s\nfrom %s\n'
                        % (self.port465, ALICE, DEFAULT_PASSWORD, ALICE))
            os.chmod(rc, 0o600)
            t2 = token()
            cp = subprocess.run([msmtp, '-C', rc, BOB], input=message(t2, sender=ALICE, to=BOB),
                                capture_output=True, timeout=30)
            self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(len(self.srv.find(BOB, t2)), 1)


def scram_login(s, user, password, tamper=False):
    """A SCRAM-SHA-256 client (RFC 5802/7677) on Python's hashlib/hmac (OpenSSL underneath):
    no Debian mail client speaks it for SMTP. Returns the final SMTP reply."""
    import base64
    import hashlib
    import hmac
    import secrets
    b64 = lambda b: base64.b64encode(b).decode()  # noqa
    cnonce = secrets.token_urlsafe(18)
    first_bare = 'n=%s,r=%s' % (user, cnonce)
    code, text = s.docmd('AUTH', 'SCRAM-SHA-256 ' + b64(('n,,' + first_bare).encode()))
    assert code == 334, (code, text)
    server_first = base64.b64decode(text).decode()
    attrs = dict(kv.split('=', 1) for kv in server_first.split(','))
    assert attrs['r'].startswith(cnonce)
    salted = hashlib.pbkdf2_hmac('sha256', password.encode(), base64.b64decode(attrs['s']),
                                 int(attrs['i']))
    client_key = hmac.new(salted, b'Client Key', 'sha256').digest()
    stored = hashlib.sha256(client_key).digest()
    final_wo_proof = 'c=biws,r=' + attrs['r']
    auth_msg = ','.join((first_bare, server_first, final_wo_proof)).encode()
    sig = hmac.new(stored, auth_msg, 'sha256').digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    if tamper:
        proof = bytes([proof[0] ^ 1]) + proof[1:]
    code, text = s.docmd(b64((final_wo_proof + ',p=' + b64(proof)).encode()))
    if code != 334:
        return code, text
    server_key = hmac.new(salted, b'Server Key', 'sha256').digest()
    expected = 'v=' + b64(hmac.new(server_key, auth_msg, 'sha256').digest())
    assert base64.b64decode(text).decode() == expected, 'server signature wrong'
    return s.docmd('')


# ---- a copy in the sender's Sent mailbox (save-sent) -----------------------------------------
def imap_login(srv, user):
    """An imaplib session of user over STARTTLS on 143 + offset."""
    im = imaplib.IMAP4('127.0.0.1', srv.imap_port, timeout=10)
    im.starttls(ssl_context=tls_ctx())
    im.login(user, DEFAULT_PASSWORD)
    return im


def sent_mailbox(im):
    """The name of the mailbox with the \\Sent role (RFC 6154), found by role, not by name."""
    typ, lines = im.list()
    assert typ == 'OK', lines
    names = []
    for line in lines:
        m = re.match(rb'\(([^)]*)\) (?:"[^"]*"|NIL) (.*)$', line)
        if m and b'\\sent' in m.group(1).lower().split():
            names.append(m.group(2).strip(b'"').decode())
    assert len(names) == 1, 'expected one \\Sent mailbox: %r' % lines
    return names[0]


def sent_copies(srv, user, marker):
    """[(flags, bytes)] of the messages containing marker in user's \\Sent mailbox (IMAP)."""
    im = imap_login(srv, user)
    try:
        typ, _ = im.select('"%s"' % sent_mailbox(im), readonly=True)
        assert typ == 'OK'
        typ, data = im.uid('FETCH', '1:*', '(FLAGS BODY.PEEK[])')
        assert typ == 'OK', data
        out = []
        for item in data:
            if isinstance(item, tuple) and marker.encode() in item[1]:
                flags = re.search(rb'FLAGS \(([^)]*)\)', item[0])
                out.append((flags.group(1).decode().split() if flags else None, item[1]))
        im.logout()
        return out
    finally:
        try:
            im.shutdown()
        except OSError:
            pass


def submit(srv, user, rcpts, msg):
    s = smtplib.SMTP('127.0.0.1', srv.port_offset + 587, timeout=10)
    try:
        s.starttls(context=tls_ctx())
        s.ehlo()
        s.login(user, DEFAULT_PASSWORD)
        refused = s.sendmail(user, rcpts, msg)
        assert not refused, refused
        s.quit()
    finally:
        s.close()


CAROL = 'carol@example.test'


class SentCopy(ServerTestCase, unittest.TestCase):
    """save-sent = on: what a logged-in user sends is also in their Sent mailbox, \\Seen,
    stored in the same transaction as the delivery (so it is there when 250 comes)."""
    SERVER_ARGS = dict(accounts=[ALICE, BOB, CAROL], config={'save-sent': 'on'})

    def test_copy_in_sent_seen_same_bytes(self):
        t = token()
        bare = (b'From: ' + ALICE.encode() + b'\r\nTo: ' + BOB.encode() +
                b', someone@foreign.test\r\nSubject: sent ' + t.encode() +
                b'\r\n\r\nno id, no date; marker ' + t.encode() + b'\r\n')
        submit(self.srv, ALICE, [BOB, 'someone@foreign.test'], bare)
        # 250 means on disk, the Sent copy included: a crash right after changes nothing.
        self.srv.kill9()
        self.srv.serve()
        got = sent_copies(self.srv, ALICE, t)
        self.assertEqual(len(got), 1, got)
        flags, data = got[0]
        self.assertIn('\\Seen', flags)
        # The message as completed at submission (Message-ID and Date added), the same bytes
        # the local recipient got.
        self.assertTrue(data.endswith(bare), data[:600])
        self.assertRegex(data, rb'\r\nMessage-ID: <[0-9a-f]{24}@[^>]+>\r\n')
        self.assertRegex(data, rb'\r\nDate: ')
        self.assertEqual([data], self.srv.find(BOB, t))
        self.assertEqual(sent_copies(self.srv, BOB, t), [])
        self.assertEqual(self.srv.find(ALICE, t), [], 'the copy belongs in Sent, not INBOX')
        self.srv.check()

    def test_found_by_role_after_rename(self):
        im = imap_login(self.srv, CAROL)
        old = sent_mailbox(im)
        typ, data = im.rename('"%s"' % old, 'Gesendet')
        self.assertEqual(typ, 'OK', data)
        self.assertEqual(sent_mailbox(im), 'Gesendet')
        im.logout()
        t = token()
        submit(self.srv, CAROL, [BOB], message(t, sender=CAROL, to=BOB))
        got = sent_copies(self.srv, CAROL, t)
        self.assertEqual(len(got), 1, got)
        self.assertTrue(got[0][1].endswith(message(t, sender=CAROL, to=BOB)))
        self.assertEqual(self.srv.export_maildir(CAROL, 'Gesendet'), [got[0][1]])

    def test_account_can_turn_it_off(self):
        self.srv.run('account', 'set', BOB, 'save-sent', 'off')
        self.addCleanup(self.srv.run, 'account', 'set', BOB, 'save-sent', 'default')
        self.assertIn(b'save-sent: off', self.srv.run('account', 'show', BOB).stdout)
        t = token()
        submit(self.srv, BOB, [ALICE], message(t, sender=BOB, to=ALICE))
        self.assertEqual(sent_copies(self.srv, BOB, t), [])
        self.assertEqual(len(self.srv.find(ALICE, t)), 1)

    def test_not_for_mail_from_other_servers(self):
        t = token()
        s = smtplib.SMTP('127.0.0.1', self.srv.smtp_port, timeout=10)
        self.addCleanup(s.close)
        s.sendmail(ALICE, [BOB], message(t, sender=ALICE, to=BOB))
        s.quit()
        self.assertEqual(len(self.srv.find(BOB, t)), 1)
        self.assertEqual(sent_copies(self.srv, ALICE, t), [])


class SentCopyOffByDefault(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB])

    def test_nothing_in_sent_unless_asked(self):
        self.assertIn(b'save-sent: off (the server', self.srv.run('account', 'show', ALICE).stdout)
        t = token()
        submit(self.srv, ALICE, [BOB], message(t, sender=ALICE, to=BOB))
        self.assertEqual(len(self.srv.find(BOB, t)), 1)
        self.assertEqual(sent_copies(self.srv, ALICE, t), [])
        # One account may ask for it.
        cp = self.srv.run('account', 'set', BOB, 'save-sent', 'on')
        self.assertIn(b'save-sent = on', cp.stdout)
        self.assertEqual(self.srv.run('account', 'set', BOB, 'save-sent', 'maybe',
                                      check=False).returncode, 2)
        t2 = token()
        submit(self.srv, BOB, [ALICE], message(t2, sender=BOB, to=ALICE))
        got = sent_copies(self.srv, BOB, t2)
        self.assertEqual(len(got), 1, got)
        self.assertIn('\\Seen', got[0][0])
        self.assertEqual([got[0][1]], self.srv.find(ALICE, t2))


class Scram(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB])

    def test_scram_sha_256(self):
        s = smtplib.SMTP('127.0.0.1', self.srv.port_offset + 587, timeout=10)
        self.addCleanup(s.close)
        s.starttls(context=tls_ctx())
        s.ehlo()
        self.assertIn('SCRAM-SHA-256', s.esmtp_features.get('auth', ''))
        code, text = scram_login(s, ALICE, 'wrong')
        self.assertEqual(code, 535, text)
        code, text = scram_login(s, ALICE, DEFAULT_PASSWORD, tamper=True)
        self.assertEqual(code, 535, text)
        code, text = scram_login(s, 'nobody@example.test', DEFAULT_PASSWORD)
        self.assertEqual(code, 535, text)
        code, text = scram_login(s, ALICE, DEFAULT_PASSWORD)
        self.assertEqual(code, 235, text)
        t = token()
        s.sendmail(ALICE, [BOB], message(t, sender=ALICE, to=BOB))
        self.assertEqual(len(self.srv.find(BOB, t)), 1)
        # The store keeps salted keys only: nothing in the database logs in by itself.
        import sqlite3
        db = sqlite3.connect(os.path.join(self.srv.data, 'store.db'))
        secret = db.execute('SELECT scram FROM accounts WHERE address = ?', (ALICE,)).fetchone()[0]
        self.assertRegex(secret, r'^4096\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{44}\$[A-Za-z0-9+/=]{44}$')
        self.assertNotIn(DEFAULT_PASSWORD, secret)


class SendLimit(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB], config={'max-messages-per-user-hour': 2})

    def test_hourly_limit_per_user(self):
        s = smtplib.SMTP('127.0.0.1', self.srv.port_offset + 587, timeout=10)
        self.addCleanup(s.close)
        s.starttls(context=tls_ctx())
        s.ehlo()
        s.login(ALICE, DEFAULT_PASSWORD)
        for _ in range(2):
            s.sendmail(ALICE, [BOB], message(token(), sender=ALICE, to=BOB))
        code, text = s.mail(ALICE)
        self.assertEqual(code, 451, text)
        self.assertTrue(text.startswith(b'4.7.1'), text)
        # Another user is not affected.
        s2 = smtplib.SMTP('127.0.0.1', self.srv.port_offset + 587, timeout=10)
        self.addCleanup(s2.close)
        s2.starttls(context=tls_ctx())
        s2.ehlo()
        s2.login(BOB, DEFAULT_PASSWORD)
        s2.sendmail(BOB, [ALICE], message(token(), sender=BOB, to=ALICE))


class NoPlaintext(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'plaintext-auth': 'never'})

    def test_auth_needs_tls(self):
        s = smtplib.SMTP('127.0.0.1', self.srv.port_offset + 587, timeout=10)
        self.addCleanup(s.close)
        s.ehlo()
        self.assertNotIn('auth', s.esmtp_features)
        code, text = s.docmd('AUTH', 'PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=')
        self.assertEqual(code, 538, text)
        self.assertIn(b'TLS', text)
        s.starttls(context=tls_ctx())
        s.ehlo()
        self.assertIn('auth', s.esmtp_features)
        s.login(ALICE, DEFAULT_PASSWORD)


if __name__ == '__main__':
    unittest.main()


class Smarthost(unittest.TestCase):
    """Mail for other domains relayed through a smarthost that requires TLS and a login. The
    smarthost is a second yubin (submission port, restrict-sender = no) that owns the
    recipient's domain, so arrival can be checked byte for byte."""

    def test_relay_through_smarthost(self):
        with Server(accounts=['relay@far.test', 'carol@far.test'], domain='far.test',
                    config={'restrict-sender': 'no'}) as far:
            relay_port = far.port_offset + 587
            with Server(accounts=[ALICE], config={
                    'smarthost': '127.0.0.1:%d' % relay_port,
                    'smarthost-user': 'relay@far.test',
                    'smarthost-password': DEFAULT_PASSWORD}) as near:
                s = smtplib.SMTP('127.0.0.1', near.port_offset + 587, timeout=10)
                self.addCleanup(s.close)
                s.starttls(context=tls_ctx())
                s.ehlo()
                s.login(ALICE, DEFAULT_PASSWORD)
                t = token()
                msg = message(t, sender=ALICE, to='carol@far.test')
                s.sendmail(ALICE, ['carol@far.test'], msg)
                deadline = time.monotonic() + 15
                got = []
                while time.monotonic() < deadline and not got:
                    got = far.find('carol@far.test', t)
                    time.sleep(0.2)
                self.assertEqual(len(got), 1, 'not relayed; queue: %s' %
                                 near.run('queue', 'list').stdout.decode())
                self.assertTrue(got[0].endswith(msg))
                self.assertIn(b'with ESMTPSA', got[0])
                # Nothing left in the queue once relayed.
                deadline = time.monotonic() + 5
                while near.run('queue', 'list').stdout.strip() and time.monotonic() < deadline:
                    time.sleep(0.2)
                self.assertEqual(near.run('queue', 'list').stdout.strip(), b'')
                audit = far.run('audit', '--account', 'relay@far.test').stdout.decode()
                self.assertIn('protocol=smtp', audit)

    def test_wrong_smarthost_password_keeps_mail(self):
        with Server(accounts=['relay@far.test', 'carol@far.test'], domain='far.test',
                    config={'restrict-sender': 'no'}) as far:
            with Server(accounts=[ALICE], config={
                    'smarthost': '127.0.0.1:%d' % (far.port_offset + 587),
                    'smarthost-user': 'relay@far.test',
                    'smarthost-password': 'wrong'}) as near:
                s = smtplib.SMTP('127.0.0.1', near.port_offset + 587, timeout=10)
                self.addCleanup(s.close)
                s.starttls(context=tls_ctx())
                s.ehlo()
                s.login(ALICE, DEFAULT_PASSWORD)
                s.sendmail(ALICE, ['carol@far.test'], message(token(), sender=ALICE,
                                                               to='carol@far.test'))
                deadline = time.monotonic() + 10
                listing = ''
                while time.monotonic() < deadline and 'refused our login' not in listing:
                    listing = near.run('queue', 'list').stdout.decode()
                    time.sleep(0.2)
                self.assertIn('refused our login', listing)
                self.assertIn('smarthost-password', listing)
