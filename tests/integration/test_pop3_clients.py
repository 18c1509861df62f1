"""Real POP3 clients against yubin: fetchmail (keep and no-keep; plain, STLS and implicit TLS)
and getmail6 (Maildir destination; plain and SSL with the server's certificate fingerprint).
What they deliver locally must be the stored message (fetchmail with `no stripcr` and
`invisible` passes it on byte for byte; getmail writes LF line ends)."""

import glob
import hashlib
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEFAULT_PASSWORD, ServerTestCase, ensure_debian_package, token  # noqa
from pop3_common import (app_password_add, deliver, pop, quit_, stored_by_marker,  # noqa: E402
                         uidl_map)

DOMAIN = 'example.test'


def acct(name):
    return '%s@%s' % (name, DOMAIN)


ACCOUNTS = [acct(n) for n in ('fkeep', 'fnokeep', 'fssl', 'gplain', 'gssl', 'gdelete')]
MARKER_RE = re.compile(rb'marker (T[0-9a-f]{16})')


def by_marker(msgs):
    out = {}
    for m in msgs:
        found = MARKER_RE.search(m)
        if not found:
            raise AssertionError('delivered message without marker: %r' % m[:300])
        out[found.group(1).decode()] = m
    return out


def lf(b):
    return b.replace(b'\r\n', b'\n')


class Pop3Fetchmail(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=ACCOUNTS[:3])

    @classmethod
    def setUpClass(cls):
        cls.fetchmail = ensure_debian_package('fetchmail', 'fetchmail')
        if not cls.fetchmail:
            raise AssertionError('fetchmail is not installed and apt-get install fetchmail failed')
        super().setUpClass()

    def run_fetchmail(self, user, password, port, options):
        d = tempfile.mkdtemp(prefix='fetchmail-', dir=self.srv.parent)
        out = os.path.join(d, 'out')
        os.mkdir(out)
        rc = os.path.join(d, 'fetchmailrc')
        with open(rc, 'w') as f:
            f.write('set no syslog\nset invisible\n'
                    'poll 127.0.0.1 protocol pop3 port %d auth password timeout 20\n'
                    '  user "%s" there with password "%s" is root here\n'
                    '  options no stripcr no forcecr norewrite fetchall %s\n'
                    '  mda "/bin/sh -c \'cat > $(mktemp %s/msg.XXXXXXXX)\'"\n'
                    % (port, user, password, options, out))
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=d, FETCHMAILHOME=d, FETCHMAILUSER='root')
        cp = subprocess.run([self.fetchmail, '-f', rc, '-i', os.path.join(d, 'idfile'),
                             '--pidfile', os.path.join(d, 'pid'), '-v', '--nosyslog'],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=60)
        log = cp.stdout.decode(errors='replace')
        msgs = []
        for path in sorted(glob.glob(os.path.join(out, 'msg.*'))):
            with open(path, 'rb') as f:
                msgs.append(f.read())
        return cp.returncode, log, msgs

    def check_delivered(self, addr, msgs, log):
        stored = stored_by_marker(self.srv, addr)
        got = by_marker(msgs)
        self.assertEqual(sorted(got), sorted(stored), 'fetchmail got other messages:\n' + log)
        for marker, data in got.items():
            self.assertEqual(data, stored[marker],
                             'fetchmail delivered other bytes than stored:\n' + log)

    def test_keep_plain(self):
        addr = acct('fkeep')
        for _ in range(3):
            deliver(self.srv, addr)
        stored = stored_by_marker(self.srv, addr)
        # sslproto '' : no STLS, USER/PASS in the clear on loopback.
        code, log, msgs = self.run_fetchmail(addr, DEFAULT_PASSWORD, self.srv.pop3_port,
                                             "keep sslproto ''")
        self.assertEqual(code, 0, 'fetchmail exit %d:\n%s' % (code, log))
        self.assertEqual(len(msgs), 3, log)
        self.check_delivered(addr, msgs, log)
        self.assertEqual(stored_by_marker(self.srv, addr), stored, 'keep: messages vanished')
        # Again: keep + fetchall gets the same three once more.
        code, log, msgs = self.run_fetchmail(addr, DEFAULT_PASSWORD, self.srv.pop3_port,
                                             "keep sslproto ''")
        self.assertEqual(code, 0, log)
        self.check_delivered(addr, msgs, log)

    def test_nokeep_stls(self):
        addr = acct('fnokeep')
        pw = app_password_add(self.srv, addr, 'fetchmail')
        for _ in range(3):
            deliver(self.srv, addr)
        stored = stored_by_marker(self.srv, addr)
        code, log, msgs = self.run_fetchmail(addr, pw, self.srv.pop3_port,
                                             'nokeep sslproto "tls1.2+" no sslcertck')
        self.assertEqual(code, 0, 'fetchmail exit %d:\n%s' % (code, log))
        self.assertRegex(log, r'(?i)STLS', 'fetchmail did not use STLS:\n' + log)
        self.assertEqual(len(msgs), 3, log)
        self.check_delivered(addr, msgs, log)
        # The device deleted them; the account password device still has them (safety net).
        code, log, msgs = self.run_fetchmail(addr, pw, self.srv.pop3_port,
                                             'nokeep sslproto "tls1.2+" no sslcertck')
        self.assertEqual(code, 1, 'second run: expected exit 1 (no mail):\n' + log)
        self.assertEqual(msgs, [])
        self.assertEqual(stored_by_marker(self.srv, addr), stored)
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        self.assertEqual(p.stat()[0], 3)
        quit_(p)

    def test_ssl_995(self):
        addr = acct('fssl')
        deliver(self.srv, addr)
        # Lines starting with a dot travel dot-stuffed; fetchmail must get them back intact.
        t = token()
        deliver(self.srv, addr, marker=t,
                body=b'.leading dot\r\n..two\r\n.\r\nmarker ' + t.encode() + b'\r\n')
        code, log, msgs = self.run_fetchmail(addr, DEFAULT_PASSWORD, self.srv.pop3s_port,
                                             'keep ssl no sslcertck')
        self.assertEqual(code, 0, 'fetchmail exit %d:\n%s' % (code, log))
        self.assertEqual(len(msgs), 2, log)
        self.check_delivered(addr, msgs, log)


class Pop3Getmail(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=ACCOUNTS[3:])

    @classmethod
    def setUpClass(cls):
        cls.getmail = ensure_debian_package('getmail', 'getmail6')
        if not cls.getmail:
            raise AssertionError('getmail is not installed and apt-get install getmail6 failed')
        super().setUpClass()

    def setup_dirs(self):
        d = tempfile.mkdtemp(prefix='getmail-', dir=self.srv.parent)
        os.chmod(d, 0o755)
        md = os.path.join(d, 'Maildir')
        for sub in ('', 'cur', 'new', 'tmp'):
            os.mkdir(os.path.join(md, sub))
        # getmail refuses to deliver as root: the Maildir belongs to the user it switches to.
        for sub in ('', 'cur', 'new', 'tmp'):
            shutil.chown(os.path.join(md, sub), 'nobody', 'nogroup')
        gd = os.path.join(d, 'getmaildir')
        os.mkdir(gd)
        return d, md, gd

    def run_getmail(self, dirs, user, password, ssl_retriever=False, delete=False,
                    read_all=True):
        d, md, gd = dirs
        rc = os.path.join(d, 'getmailrc')
        if ssl_retriever:
            pem = open(os.path.join(self.srv.data, 'tls', 'cert.pem')).read()
            first = re.search(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', pem,
                              re.S).group(0)
            fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest()
            retriever = ('type = SimplePOP3SSLRetriever\nport = %d\nssl_fingerprints = ("%s",)\n'
                         % (self.srv.pop3s_port, fp))
        else:
            retriever = 'type = SimplePOP3Retriever\nport = %d\n' % self.srv.pop3_port
        with open(rc, 'w') as f:
            f.write('[retriever]\n%sserver = 127.0.0.1\nusername = %s\npassword = %s\n'
                    'timeout = 20\n\n'
                    '[destination]\ntype = Maildir\npath = %s/\nuser = nobody\n\n'
                    '[options]\nread_all = %s\ndelete = %s\ndelivered_to = false\n'
                    'received = false\nverbose = 2\n'
                    % (retriever, user, password, md, read_all, delete))
        os.chmod(rc, 0o600)
        before = set(self.maildir_files(md))
        cp = subprocess.run([self.getmail, '--getmaildir', gd, '--rcfile', rc],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=60, env=dict(os.environ, HOME=d))
        log = cp.stdout.decode(errors='replace')
        msgs = []
        for path in sorted(set(self.maildir_files(md)) - before):
            with open(path, 'rb') as f:
                msgs.append(f.read())
        return cp.returncode, log, msgs

    @staticmethod
    def maildir_files(md):
        return [os.path.join(md, sub, n) for sub in ('new', 'cur')
                for n in os.listdir(os.path.join(md, sub))]

    def check_delivered(self, addr, msgs, log, markers=None):
        stored = stored_by_marker(self.srv, addr)
        if markers is not None:
            stored = {m: stored[m] for m in markers}
        got = by_marker(msgs)
        self.assertEqual(sorted(got), sorted(stored), 'getmail got other messages:\n' + log)
        for marker, data in got.items():
            # getmail writes native (LF) line ends and its own Return-Path (same sender).
            self.assertEqual(data, lf(stored[marker]),
                             'getmail delivered other bytes than stored:\n' + log)

    def test_plain_and_uidl_memory(self):
        addr = acct('gplain')
        first = [deliver(self.srv, addr)[0] for _ in range(2)]
        dirs = self.setup_dirs()
        code, log, msgs = self.run_getmail(dirs, addr, DEFAULT_PASSWORD, read_all=False)
        self.assertEqual(code, 0, 'getmail exit %d:\n%s' % (code, log))
        self.assertEqual(len(msgs), 2, log)
        self.check_delivered(addr, msgs, log)
        # getmail remembers UIDLs: the next run only fetches the new message.
        new = deliver(self.srv, addr)[0]
        code, log, msgs = self.run_getmail(dirs, addr, DEFAULT_PASSWORD, read_all=False)
        self.assertEqual(code, 0, log)
        self.assertEqual(len(msgs), 1, 'getmail fetched again what it had (UIDL changed?):\n'
                         + log)
        self.check_delivered(addr, msgs, log, markers=[new])
        self.assertNotIn(new, first)

    def test_ssl_with_fingerprint(self):
        addr = acct('gssl')
        for _ in range(2):
            deliver(self.srv, addr)
        code, log, msgs = self.run_getmail(self.setup_dirs(), addr, DEFAULT_PASSWORD,
                                           ssl_retriever=True)
        self.assertEqual(code, 0, 'getmail exit %d:\n%s' % (code, log))
        self.assertEqual(len(msgs), 2, log)
        self.check_delivered(addr, msgs, log)

    def test_delete_is_per_device(self):
        addr = acct('gdelete')
        pw = app_password_add(self.srv, addr, 'getmail')
        for _ in range(2):
            deliver(self.srv, addr)
        stored = stored_by_marker(self.srv, addr)
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        uids = uidl_map(p)
        quit_(p)
        code, log, msgs = self.run_getmail(self.setup_dirs(), addr, pw, delete=True)
        self.assertEqual(code, 0, 'getmail exit %d:\n%s' % (code, log))
        self.check_delivered(addr, msgs, log)
        p = pop(self.srv, addr, pw)
        self.assertEqual(p.stat(), (0, 0), 'getmail deleted, its device still sees messages')
        quit_(p)
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        self.assertEqual(uidl_map(p), uids, 'other device lost messages getmail deleted')
        quit_(p)
        self.assertEqual(stored_by_marker(self.srv, addr), stored)


if __name__ == '__main__':
    unittest.main()
