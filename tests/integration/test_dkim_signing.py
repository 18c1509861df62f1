"""DKIM keys (yubin init, domain add, dns, dkim list/rotate/use/retire) and the signatures on
everything that leaves through the queue, checked by dkimpy and OpenDKIM.

DkimCommands runs the CLI on data directories of its own. DkimSigning runs a server whose
queue delivers to a real Postfix (test_outbound's RemoteMX, mx.remote.test = 127.0.0.2, found
through test_outbound's dnsmasq); the messages as Postfix stored them are verified by
tests/integration/dkim_verify.py under /usr/bin/python3: dkimpy with the records `yubin dns`
prints, OpenDKIM's opendkim-testmsg with the same records served by dnsmasq in a private
namespace (as tests/conformance/dkim_interop.py does)."""

import base64
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import RawSMTP, Server, pick_port_offset, send_raw_data, token, yubin  # noqa: E402
import test_outbound as ob  # noqa: E402

ALICE = 'alice@example.test'
YEAR = time.gmtime().tm_year
VERIFY = os.path.join(HERE, 'dkim_verify.py')
TXT_RE = re.compile(r'^  (\S+)\.\s+TXT\s+((?:"[^"]*"[ ]?)+)$', re.M)


def txt_records(out):
    """{owner name: (joined text, [strings])} of the TXT lines yubin printed."""
    recs = {}
    for m in TXT_RE.finditer(out):
        strings = re.findall(r'"([^"]*)"', m.group(2))
        recs[m.group(1).lower()] = (''.join(strings), strings)
    return recs


def public_of(keyfile):
    """The p= a key file should have: SPKI DER for RSA, the 32 raw bytes for Ed25519."""
    der = subprocess.run(['openssl', 'pkey', '-in', keyfile, '-pubout', '-outform', 'DER'],
                         check=True, stdout=subprocess.PIPE).stdout
    text = subprocess.run(['openssl', 'pkey', '-in', keyfile, '-noout', '-text'],
                          check=True, stdout=subprocess.PIPE).stdout
    if b'ED25519' in text.upper():
        return 'ed25519', base64.b64encode(der[-32:]).decode()
    return 'rsa', base64.b64encode(der).decode()


def signing_file(data, domain):
    with open(os.path.join(data, 'dkim', domain, 'signing')) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith('#')]


def dkim_list(data, domain=None):
    args = ['dkim', 'list'] + ([domain] if domain else []) + ['--data', data]
    cp = yubin(*args, check=True)
    return [tuple(l.split('\t')[:4]) for l in cp.stdout.decode().splitlines() if l.strip()]


class DkimCommands(unittest.TestCase):
    def setUp(self):
        self.parent = tempfile.mkdtemp(prefix='yubin-dkim-')
        os.chmod(self.parent, 0o755)
        self.data = os.path.join(self.parent, 'data')
        self.init = yubin('init', '--data', self.data, '--domain', 'Example.test',
                          '--port-offset', str(pick_port_offset()), check=True)
        self.out = self.init.stdout.decode()

    def tearDown(self):
        shutil.rmtree(self.parent, ignore_errors=True)

    def run_cli(self, *args, rc=0):
        cp = yubin(*args, '--data', self.data)
        text = (cp.stdout + cp.stderr).decode()
        self.assertEqual(cp.returncode, rc, 'yubin %s: %s' % (' '.join(args), text))
        return text

    def assert_records_match_keys(self, out, domain, selectors):
        recs = txt_records(out)
        for sel in selectors:
            name = '%s._domainkey.%s' % (sel, domain)
            self.assertIn(name, recs, 'no TXT record %s in:\n%s' % (name, out))
            text, strings = recs[name]
            self.assertTrue(all(len(s) <= 255 for s in strings), strings)
            kind, p = public_of(os.path.join(self.data, 'dkim', domain, sel + '.key'))
            self.assertEqual(text, 'v=DKIM1; k=%s; p=%s' % (kind, p))
        return recs

    def test_init_makes_keys_with_private_modes_and_prints_every_record(self):
        d = os.path.join(self.data, 'dkim')
        rsa, ed = 'y%da-rsa' % YEAR, 'y%da-ed' % YEAR
        self.assertEqual(signing_file(self.data, 'example.test'), [rsa, ed])
        for p in (d, os.path.join(d, 'example.test')):
            self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), 0o700, p)
        for name in ('signing', rsa + '.key', ed + '.key'):
            p = os.path.join(d, 'example.test', name)
            self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), 0o600, p)
        self.assertEqual(public_of(os.path.join(d, 'example.test', rsa + '.key'))[0], 'rsa')
        self.assertEqual(public_of(os.path.join(d, 'example.test', ed + '.key'))[0], 'ed25519')
        bits = subprocess.run(['openssl', 'pkey', '-in', os.path.join(d, 'example.test',
                                                                       rsa + '.key'),
                               '-noout', '-text'], stdout=subprocess.PIPE).stdout
        self.assertIn(b'2048 bit', bits)
        recs = self.assert_records_match_keys(self.out, 'example.test', [rsa, ed])
        self.assertEqual(recs['example.test'][0], 'v=spf1 mx -all')
        self.assertEqual(recs['_dmarc.example.test'][0],
                         'v=DMARC1; p=none; rua=mailto:dmarc-reports@example.test')
        self.assertRegex(self.out, r'example\.test\.\s+MX\s+10 mail\.Example\.test\.')
        # every record comes with a sentence saying what it is for
        for what in ('SPF:', 'DKIM (RSA key', 'DKIM (Ed25519 key', 'DMARC:', 'Mail for @'):
            self.assertIn(what, self.out)
        # `yubin dns` prints the same records again
        again = self.run_cli('dns', 'example.test')
        self.assertEqual(txt_records(again), recs)
        self.assertEqual(sorted(dkim_list(self.data)), sorted([
            ('example.test', rsa, 'rsa', 'signing'), ('example.test', ed, 'ed25519', 'signing')]))

    def test_spf_names_the_smarthost(self):
        with open(os.path.join(self.data, 'yubin.conf'), 'a') as f:
            f.write('smarthost = relay.provider.example:587\n')
        recs = txt_records(self.run_cli('dns', 'example.test'))
        self.assertEqual(recs['example.test'][0], 'v=spf1 mx a:relay.provider.example -all')

    def test_rotate_use_retire_and_their_refusals(self):
        a_rsa, a_ed = 'y%da-rsa' % YEAR, 'y%da-ed' % YEAR
        b_rsa, b_ed = 'y%db-rsa' % YEAR, 'y%db-ed' % YEAR
        out = self.run_cli('dkim', 'rotate', 'example.test')
        self.assert_records_match_keys(out, 'example.test', [b_rsa, b_ed])
        self.assertIn('still signed with', out)
        self.assertEqual(signing_file(self.data, 'example.test'), [a_rsa, a_ed])
        self.assertEqual(sorted(dkim_list(self.data, 'example.test')), sorted([
            ('example.test', a_ed, 'ed25519', 'signing'), ('example.test', a_rsa, 'rsa', 'signing'),
            ('example.test', b_ed, 'ed25519', 'ready'), ('example.test', b_rsa, 'rsa', 'ready')]))
        # use: only keys that exist; nothing changes otherwise
        err = self.run_cli('dkim', 'use', 'example.test', b_rsa, 'y1999z-rsa', rc=1)
        self.assertIn('y1999z-rsa', err)
        self.assertEqual(signing_file(self.data, 'example.test'), [a_rsa, a_ed])
        # retire: never a selector in use, nor one that does not exist
        err = self.run_cli('dkim', 'retire', 'example.test', a_rsa, rc=1)
        self.assertIn('still signs', err)
        self.assertTrue(os.path.exists(os.path.join(self.data, 'dkim', 'example.test',
                                                    a_rsa + '.key')))
        self.run_cli('dkim', 'retire', 'example.test', 'nosuch', rc=1)
        out = self.run_cli('dkim', 'use', 'example.test', b_rsa, b_ed)
        self.assertIn('SIGHUP', out)
        self.assertIn('published', out)
        self.assertEqual(signing_file(self.data, 'example.test'), [b_rsa, b_ed])
        self.run_cli('dkim', 'retire', 'example.test', a_rsa)
        self.run_cli('dkim', 'retire', 'example.test', a_ed)
        d = os.path.join(self.data, 'dkim', 'example.test')
        self.assertFalse(os.path.exists(os.path.join(d, a_rsa + '.key')))
        self.assertTrue(os.path.exists(os.path.join(d, 'retired', a_rsa + '.key')))
        self.assertEqual(sorted(dkim_list(self.data)), sorted([
            ('example.test', b_ed, 'ed25519', 'signing'), ('example.test', b_rsa, 'rsa', 'signing')]))
        # a retired selector is never made again: the next rotation is c
        out = self.run_cli('dkim', 'rotate', 'example.test')
        self.assertIn('y%dc-rsa' % YEAR, out)
        # the printed DNS records leave retired keys out
        recs = txt_records(self.run_cli('dns', 'example.test'))
        self.assertNotIn('%s._domainkey.example.test' % a_rsa, recs)
        self.assertIn('%s._domainkey.example.test' % b_rsa, recs)
        self.run_cli('dkim', 'use', 'nosuch.test', b_rsa, rc=1)
        self.assertIn('not one of', self.run_cli('dkim', 'rotate', 'nosuch.test', rc=1))
        self.assertFalse(os.path.exists(os.path.join(self.data, 'dkim', 'nosuch.test')))
        self.run_cli('dkim', 'frobnicate', rc=2)

    def test_domain_add_makes_keys_and_prints_records(self):
        out = self.run_cli('domain', 'add', 'Other.test')
        sels = ['y%da-rsa' % YEAR, 'y%da-ed' % YEAR]
        self.assertEqual(signing_file(self.data, 'other.test'), sels)
        recs = self.assert_records_match_keys(out, 'other.test', sels)
        self.assertEqual(recs['other.test'][0], 'v=spf1 mx -all')
        self.assertIn('_dmarc.other.test', recs)

    def test_rotate_gives_a_domain_without_keys_its_first_pair(self):
        shutil.rmtree(os.path.join(self.data, 'dkim', 'example.test'))
        self.assertIn('no DKIM keys', self.run_cli('dns', 'example.test'))
        out = self.run_cli('dkim', 'rotate', 'example.test')
        self.assertIn('sign from now on', out)
        self.assertEqual(signing_file(self.data, 'example.test'),
                         ['y%da-rsa' % YEAR, 'y%da-ed' % YEAR])


# ---- signing, end to end ---------------------------------------------------------------------
_TMP = None


def setUpModule():
    global _TMP
    _TMP = tempfile.mkdtemp(prefix='yubin-dkim-sign-')
    os.chmod(_TMP, 0o755)
    try:
        ob.DNS = ob.DnsServer(_TMP)
        ob.DNS.start()
        ob.MX = ob.RemoteMX(_TMP)
        ob.MX.start()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    try:
        if ob.MX:
            ob.MX.stop()
    finally:
        if ob.DNS:
            ob.DNS.stop()
        ob.DNS = ob.MX = None
        if _TMP and not os.environ.get('YUBIN_KEEP'):
            shutil.rmtree(_TMP, ignore_errors=True)


def verify(msg, records, opendkim=True):
    req = {'message': base64.b64encode(msg).decode(), 'records': records, 'opendkim': opendkim}
    cp = subprocess.run(['/usr/bin/python3', VERIFY], input=json.dumps(req).encode(),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if cp.returncode != 0:
        raise AssertionError('dkim_verify.py failed: %s' % cp.stderr.decode())
    return json.loads(cp.stdout)


def crlf(m):
    return m.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')


def dkim_fields(msg):
    head = msg.split(b'\r\n\r\n', 1)[0] + b'\r\n'
    return [f for f in re.findall(rb'(?m)^[^ \t\r\n][^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*', head)
            if f.lower().startswith(b'dkim-signature:')]


class DkimSigning(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        config = {'outbound-port': str(ob.MX.port), 'resolver': '%s@%d' % (ob.DNS_ADDR,
                                                                           ob.DNS.port),
                  'queue-retry-min': '2', 'queue-retry-max': '2', 'outbound-reuse': '1',
                  # big messages take the spilled-file path, where the signature goes into
                  # the room kept before the first byte
                  'spill-threshold': '8192', 'log-level': 'debug'}

        def setup(srv):
            srv.run('alias', 'add', 'fwd@example.test', 'fwd-target@remote.test')
            srv.run('alias', 'add', 'bouncy@example.test', 'refused-target@remote.test')
        cls.srv = Server(accounts=[ALICE], config=config, setup=setup)
        cls.srv.__enter__()
        ob.MX.set_access('refused-target@remote.test', '550 5.1.1 no such user here')

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.srv.alive():
                cls.srv.check()
        finally:
            cls.srv.__exit__(None, None, None)

    def diag(self):
        return '\n--- yubin log ---\n%s\n--- postfix log ---\n%s' % (
            self.srv.log_tail(30), ob.MX.log_text()[-2000:])

    def records(self, domain='example.test'):
        cp = self.srv.run('dns', domain)
        return {k: v[0] for k, v in txt_records(cp.stdout.decode()).items()
                if '._domainkey.' in k}

    def wait_mail(self, addr, count=1, timeout=20):
        try:
            return ob.MX.wait_mail(addr, timeout, count)
        except AssertionError as e:
            raise AssertionError(str(e) + self.diag())

    def assert_signed(self, got, domain='example.test', selectors=None):
        """got: a message as Postfix stored it. Both signatures (RSA and Ed25519, d=domain,
        once each) verify with dkimpy and OpenDKIM. Returns the CRLF message."""
        msg = crlf(got)
        res = verify(msg, self.records(domain))
        algs = sorted(r['a'] for r in res)
        self.assertEqual(algs, ['ed25519-sha256', 'rsa-sha256'], '%r%s' % (res, self.diag()))
        for r in res:
            self.assertEqual(r['d'], domain, r)
            self.assertTrue(r['dkimpy'], 'dkimpy does not verify %r:\n%r' % (r, msg[:3000]))
            self.assertEqual(r['opendkim'], 0, 'OpenDKIM does not verify %r' % r)
        if selectors:
            self.assertEqual(sorted(r['s'] for r in res), sorted(selectors))
        return msg

    def submit(self, rcpts, msg):
        ob.submit(self.srv, ALICE, rcpts, msg)

    def test_submitted_mail_is_signed_with_rsa_and_ed25519(self):
        for size in ('small', 'spilled'):
            t = token()
            rcpt = 'x-%s@remote.test' % t
            body = None
            if size == 'spilled':
                body = b''.join(b'line %d of a message that spills to a file %s\r\n' % (i, t.encode())
                                for i in range(2000))
            msg = ob.compose(t, ALICE, [rcpt], body=body)
            self.submit([rcpt], msg)
            got = self.wait_mail(rcpt)
            self.assertEqual(len(got), 1)
            signed = self.assert_signed(got[0],
                                        selectors=signing_file(self.srv.data, 'example.test'))
            self.assertTrue(signed.endswith(msg), 'the message changed on the way')
            # a tampered copy fails: the test can fail
            bad = verify(signed.replace(b'marker ' if size == 'small' else b'line 7 ', b'markex ', 1),
                         self.records(), opendkim=size == 'small')
            self.assertFalse(any(r['dkimpy'] for r in bad), bad)
            if size == 'small':
                self.assertFalse(any(r['opendkim'] == 0 for r in bad), bad)

    def test_retry_sends_the_bytes_signed_at_queueing(self):
        t = token()
        x, y = 'x-%s@remote.test' % t, 'y-%s@remote.test' % t
        ob.MX.set_access(y, '450 4.2.0 come back later')
        try:
            msg = ob.compose(t, ALICE, [x, y])
            self.submit([x, y], msg)
            gx = self.wait_mail(x)
            time.sleep(2.5)   # a signature made now would carry another t=
        finally:
            ob.MX.set_access(y, None)
        gy = self.wait_mail(y, timeout=30)
        mx, my = self.assert_signed(gx[0]), self.assert_signed(gy[0])
        fx, fy = dkim_fields(mx), dkim_fields(my)
        self.assertEqual(len(fx), 2)
        self.assertEqual(fx, fy, 'the retry was signed again')
        # from our signature on, the bytes are the same
        self.assertEqual(mx[mx.index(fx[0]):], my[my.index(fy[0]):])

    def test_forwarded_mail_and_the_bounce_yubin_writes_are_signed(self):
        t = token()
        sender = 'sender-%s@remote.test' % t
        for alias in ('fwd@example.test', 'bouncy@example.test'):
            msg = (b'From: Someone <' + sender.encode() + b'>\r\nTo: ' + alias.encode() +
                   b'\r\nSubject: forward ' + t.encode() + b'\r\nMessage-ID: <' +
                   t.encode() + alias.encode() + b'>\r\n\r\nmarker ' + t.encode() + b'\r\n')
            with RawSMTP(self.srv.smtp_port) as c:
                c.ehlo('mx.remote.test')
                r = send_raw_data(c, sender, [alias], msg)
                self.assertEqual(r.code, 250, r)
                c.cmd('QUIT')
        # forwarded foreign mail: signed by the first local domain (its From is not ours)
        got = [m for m in self.wait_mail('fwd-target@remote.test', count=1)
               if t.encode() in m]
        self.assertTrue(got, self.diag())
        self.assert_signed(got[0])
        # the other target refuses: the bounce goes back through the queue, signed
        dsn = self.wait_mail(sender, timeout=30)
        self.assertEqual(len(dsn), 1)
        self.assertIn(b'MAILER-DAEMON@example.test', dsn[0])
        self.assert_signed(dsn[0])

    def test_sighup_brings_a_new_selector_into_use(self):
        self.srv.run('dkim', 'rotate', 'example.test')
        sels = [s for d, s, k, u in dkim_list(self.srv.data, 'example.test') if u == 'ready']
        self.assertEqual(len(sels), 2, sels)
        self.srv.run('dkim', 'use', 'example.test', *sels)
        before = self.srv.log_text().count('event=dkim-keys')
        self.srv.proc.send_signal(signal.SIGHUP)
        ob.wait_for('the keys to be reloaded', lambda: self.srv.log_text().count(
            'event=dkim-keys') > before, 10, 0.1)
        t = token()
        rcpt = 'hup-%s@remote.test' % t
        self.submit([rcpt], ob.compose(t, ALICE, [rcpt]))
        self.assert_signed(self.wait_mail(rcpt)[0], selectors=sels)

    def test_a_broken_key_leaves_its_domain_unsigned_and_the_server_up(self):
        self.srv.run('domain', 'add', 'broken.test')
        sel = [s for d, s, k, u in dkim_list(self.srv.data, 'broken.test') if k == 'rsa'][0]
        with open(os.path.join(self.srv.data, 'dkim', 'broken.test', sel + '.key'), 'w') as f:
            f.write('-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n')
        before = self.srv.log_text().count('event=dkim-keys')
        self.srv.proc.send_signal(signal.SIGHUP)
        ob.wait_for('the keys to be reloaded', lambda: self.srv.log_text().count(
            'event=dkim-keys') > before, 10, 0.1)
        log = self.srv.log_text()
        self.assertRegex(log, r'event=dkim-key-unusable domain=broken\.test selector=%s' % sel)
        t = token()
        rcpt = 'broken-%s@remote.test' % t
        msg = ob.compose(t, ALICE, [rcpt]).replace(b'From: Alice <alice@example.test>',
                                                  b'From: Alice <alice@broken.test>')
        self.submit([rcpt], msg)
        got = crlf(self.wait_mail(rcpt)[0])
        self.assertEqual(dkim_fields(got), [], 'signed although its key is broken')
        self.assertTrue(got.endswith(msg))
        self.assertIn('event=dkim-unsigned', self.srv.log_text())
        self.assertTrue(self.srv.alive())


if __name__ == '__main__':
    unittest.main()
