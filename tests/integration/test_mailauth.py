"""Inbound mail authentication end to end: a real DNS server (dnsmasq on 127.0.0.57) publishes
SPF records, DKIM keys and DMARC policies; messages signed by dkimpy (Debian's python3-dkim,
`dkimsign`) arrive over SMTP from 127.0.0.1; the stored message's Authentication-Results, its
mailbox (INBOX or Junk) and the SMTP reply must say what the records say.

Zones (*.test is local: any other name is NXDOMAIN):
  pass.test        v=spf1 ip4:127.0.0.1 -all           (this client may send)
  fail.test        v=spf1 ip4:192.0.2.1 -all           (it may not; no DMARC)
  soft.test        v=spf1 ~all
  signed.test      DKIM keys rsa._domainkey, ed._domainkey; SPF ip4:127.0.0.1
  slow.test        forwarded to a server that never answers
  reject.test      SPF -all for 192.0.2.1 only; DMARC p=reject; sp=quarantine
  quar.test        SPF -all for 192.0.2.1 only; DMARC p=quarantine
  monitor.test     SPF -all for 192.0.2.1 only; DMARC p=none
  signed.test      also DMARC p=reject (its signed mail passes through DKIM alignment)
"""
import base64
import imaplib
import os
import shutil
import smtplib
import sqlite3
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (DEFAULT_PASSWORD, HOSTNAME, Server, ensure_debian_package, message,
                     token, unfold)

DNS_ADDR = '127.0.0.57'
DKIMSIGN = '/usr/bin/dkimsign'


def free_udp_port(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def txt_chunks(text):
    """dnsmasq makes each comma-separated piece one TXT string (at most 255 bytes)."""
    return ','.join(text[i:i + 250] for i in range(0, len(text), 250))


def genkeys(work):
    rsa = os.path.join(work, 'rsa.pem')
    ed = os.path.join(work, 'ed.pem')
    subprocess.run(['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt',
                    'rsa_keygen_bits:2048', '-out', rsa], check=True, stderr=subprocess.DEVNULL)
    subprocess.run(['openssl', 'genpkey', '-algorithm', 'ed25519', '-out', ed], check=True)
    short = os.path.join(work, 'short.pem')  # RFC 8301: under 1024 bits must not pass
    subprocess.run(['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt',
                    'rsa_keygen_bits:512', '-out', short], check=True, stderr=subprocess.DEVNULL)
    short_pub = subprocess.run(['openssl', 'pkey', '-in', short, '-pubout', '-outform', 'DER'],
                               check=True, stdout=subprocess.PIPE).stdout
    ed_der = subprocess.run(['openssl', 'pkey', '-in', ed, '-outform', 'DER'],
                            check=True, stdout=subprocess.PIPE).stdout
    ed_raw = os.path.join(work, 'ed.b64')  # dkimsign wants the raw key in base64
    with open(ed_raw, 'wb') as f:
        f.write(base64.b64encode(ed_der[-32:]))
    rsa_pub = subprocess.run(['openssl', 'pkey', '-in', rsa, '-pubout', '-outform', 'DER'],
                             check=True, stdout=subprocess.PIPE).stdout
    ed_pub = subprocess.run(['openssl', 'pkey', '-in', ed, '-pubout', '-outform', 'DER'],
                            check=True, stdout=subprocess.PIPE).stdout[-32:]
    return {
        'rsa': (rsa, 'v=DKIM1; k=rsa; p=' + base64.b64encode(rsa_pub).decode()),
        'short': (short, 'v=DKIM1; k=rsa; p=' + base64.b64encode(short_pub).decode()),
        'ed': (ed_raw, 'v=DKIM1; k=ed25519; p=' + base64.b64encode(ed_pub).decode()),
    }


def dkim_sign(msg, selector, domain, keyfile, alg='rsa-sha256', bcanon='relaxed'):
    """dkimpy's dkimsign (Debian's python3-dkim): returns the signed message."""
    p = subprocess.run([DKIMSIGN, '--signalg', alg, '--hcanon', 'relaxed', '--bcanon', bcanon,
                        selector, domain, keyfile], input=msg, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0 or not p.stdout.startswith(b'DKIM-Signature:'):
        raise AssertionError('dkimsign failed: %r' % p.stderr)
    return p.stdout.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')


def authres(stored):
    """The unfolded Authentication-Results fields of a stored message's header."""
    head = stored.split(b'\r\n\r\n', 1)[0]
    fields, cur = [], None
    for line in head.split(b'\r\n'):
        if line[:1] in (b' ', b'\t') and cur is not None:
            cur += b'\r\n' + line
            continue
        if cur is not None:
            fields.append(cur)
        cur = line
    if cur is not None:
        fields.append(cur)
    return [' '.join(unfold(f)[len('Authentication-Results:'):].split()) for f in fields
            if f.lower().startswith(b'authentication-results:')]


class MailAuthCase(unittest.TestCase):
    EXTRA_CONFIG = {}

    @classmethod
    def setUpClass(cls):
        dnsmasq = ensure_debian_package('dnsmasq', 'dnsmasq-base')
        if not dnsmasq:
            raise AssertionError('dnsmasq is not installed and apt-get install dnsmasq-base failed')
        if not os.access(DKIMSIGN, os.X_OK):
            raise AssertionError('dkimsign (python3-dkim) is missing')
        cls.tmp = tempfile.mkdtemp(prefix='yubin-mailauth-')
        cls.keys = genkeys(cls.tmp)
        cls.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.silent.bind((DNS_ADDR, 0))
        silent_port = cls.silent.getsockname()[1]
        cls.port = free_udp_port(DNS_ADDR)
        records = [
            '--txt-record=pass.test,v=spf1 ip4:127.0.0.1 -all',
            '--txt-record=fail.test,v=spf1 ip4:192.0.2.1 -all',
            '--txt-record=soft.test,v=spf1 ~all',
            '--txt-record=signed.test,v=spf1 ip4:127.0.0.1 -all',
            '--txt-record=rsa._domainkey.signed.test,' + txt_chunks(cls.keys['rsa'][1]),
            '--txt-record=ed._domainkey.signed.test,' + txt_chunks(cls.keys['ed'][1]),
            '--txt-record=garbage._domainkey.signed.test,v=DKIM1; k=rsa; p=!!not*base64',
            '--txt-record=short._domainkey.signed.test,' + cls.keys['short'][1],
            '--server=/slow.test/%s#%d' % (DNS_ADDR, silent_port),
            '--txt-record=reject.test,v=spf1 ip4:192.0.2.1 -all',
            '--txt-record=_dmarc.reject.test,v=DMARC1; p=reject; sp=quarantine',
            '--txt-record=quar.test,v=spf1 ip4:192.0.2.1 -all',
            '--txt-record=_dmarc.quar.test,v=DMARC1; p=quarantine',
            '--txt-record=monitor.test,v=spf1 ip4:192.0.2.1 -all',
            '--txt-record=_dmarc.monitor.test,v=DMARC1; p=none',
            '--txt-record=_dmarc.signed.test,v=DMARC1; p=reject',
        ] + cls.RECORDS
        cls.dns = subprocess.Popen(
            [dnsmasq, '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv',
             '--no-hosts', '--no-negcache', '--port=%d' % cls.port,
             '--listen-address=' + DNS_ADDR, '--bind-interfaces', '--pid-file=',
             '--local=/test/'] + records,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(0.3)
        if cls.dns.poll() is not None:
            raise AssertionError('dnsmasq exited: %s' % cls.dns.stdout.read())
        config = {'resolver': '%s@%d' % (DNS_ADDR, cls.port), 'trusted-networks': '',
                  'mailauth-timeout': '2'}
        config.update(cls.EXTRA_CONFIG)
        cls.srv = Server(config=config, accounts=['alice@example.test'])
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.__exit__(None, None, None)
        finally:
            cls.dns.terminate()
            try:
                cls.dns.wait(5)
            except subprocess.TimeoutExpired:
                cls.dns.kill()
                cls.dns.wait(5)
            cls.dns.stdout.close()
            cls.silent.close()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    RECORDS = []

    def send(self, sender, msg, helo='client.pass.test', expect=250):
        with smtplib.SMTP('127.0.0.1', self.srv.smtp_port, local_hostname=helo,
                          timeout=30) as s:
            code, resp = s.ehlo(helo)
            self.assertEqual(code, 250)
            s.mail(sender)
            s.rcpt('alice@example.test')
            code, resp = s.data(msg)
            self.assertEqual(code, expect, resp)
            return resp.decode()

    def stored(self, marker, mailbox=None):
        found = [m for m in self.srv.export_maildir('alice@example.test', mailbox)
                 if marker.encode() in m]
        self.assertEqual(len(found), 1, 'message %s in %s: %d copies' %
                         (marker, mailbox or 'INBOX', len(found)))
        return found[0]

    def flags(self, mailbox, marker):
        im = imaplib.IMAP4('127.0.0.1', self.srv.imap_port)
        try:
            im.login('alice@example.test', DEFAULT_PASSWORD)
            im.select(mailbox, readonly=True)
            typ, data = im.search(None, 'SUBJECT', marker)
            nums = data[0].split()
            self.assertEqual(len(nums), 1, data)
            typ, data = im.fetch(nums[0], '(FLAGS)')
            return data[0].decode()
        finally:
            im.logout()


class TestSpfAndDkim(MailAuthCase):

    def test_spf_pass_goes_to_inbox_with_the_verdict(self):
        mk = token()
        self.send('someone@pass.test', message(mk, sender='someone@pass.test'))
        ar = authres(self.stored(mk))
        self.assertEqual(len(ar), 1, ar)
        self.assertTrue(ar[0].startswith(HOSTNAME + ';'), ar)
        self.assertRegex(ar[0], r'; spf=pass \(matched ip4:127.0.0.1\) '
                                r'smtp.mailfrom=someone@pass.test;')
        self.assertRegex(ar[0], r'; spf=none \([^)]*\) smtp.helo=client.pass.test;')
        self.assertIn('; dkim=none', ar[0])

    def test_spf_fail_without_dmarc_goes_to_junk(self):
        mk = token()
        self.send('someone@fail.test', message(mk, sender='someone@fail.test'))
        ar = authres(self.stored(mk, 'Junk'))
        self.assertIn('spf=fail', ar[0])
        self.assertIn('$Junk', self.flags('Junk', mk))
        self.assertEqual(self.srv.find('alice@example.test', mk), [])  # not in INBOX
        self.assertRegex(self.srv.log_text(), r'event=mailauth .*spf=fail .*action=junk')

    def test_softfail_is_delivered_to_inbox(self):
        mk = token()
        self.send('someone@soft.test', message(mk, sender='someone@soft.test'))
        self.assertIn('spf=softfail', authres(self.stored(mk))[0])

    def test_dkim_rsa_and_ed25519_signed_by_dkimpy_pass(self):
        for sel, alg in (('rsa', 'rsa-sha256'), ('ed', 'ed25519-sha256')):
            for bcanon in ('simple', 'relaxed'):
                mk = token()
                msg = dkim_sign(message(mk, sender='news@signed.test'), sel, 'signed.test',
                                self.keys[sel][0], alg, bcanon)
                self.send('news@signed.test', msg)
                ar = authres(self.stored(mk))[0]
                self.assertIn('dkim=pass', ar)
                self.assertIn('header.d=signed.test', ar)
                self.assertIn('header.s=' + sel, ar)
                self.assertIn('header.a=' + alg, ar)

    def test_changed_body_fails_with_the_reason(self):
        mk = token()
        msg = dkim_sign(message(mk, sender='news@signed.test'), 'rsa', 'signed.test',
                        self.keys['rsa'][0])
        msg = msg.replace(b'Hello from', b'Goodbye from')
        self.send('news@signed.test', msg)
        ar = authres(self.stored(mk))[0]
        self.assertIn('dkim=fail', ar)
        self.assertIn('body', ar)  # the reason names the body hash

    def test_key_record_with_garbage_is_permerror(self):
        mk = token()
        msg = dkim_sign(message(mk, sender='news@signed.test'), 'garbage', 'signed.test',
                        self.keys['rsa'][0])
        self.send('news@signed.test', msg)
        ar = authres(self.stored(mk))[0]
        self.assertRegex(ar, r'dkim=permerror \([^;]*\) header.d=signed.test header.s=garbage')

    def test_missing_key_is_permerror_and_unknown_domain_is_none(self):
        mk = token()
        msg = dkim_sign(message(mk, sender='news@signed.test'), 'nokey', 'signed.test',
                        self.keys['rsa'][0])
        self.send('news@signed.test', msg)
        self.assertRegex(authres(self.stored(mk))[0], r'dkim=permerror \([^;]*\) '
                         r'header.d=signed.test header.s=nokey')

    def test_key_under_1024_bits_does_not_pass(self):
        mk = token()
        msg = dkim_sign(message(mk, sender='news@signed.test'), 'short', 'signed.test',
                        self.keys['short'][0])
        self.send('news@signed.test', msg)
        ar = authres(self.stored(mk))[0]
        self.assertNotIn('dkim=pass', ar)
        self.assertRegex(ar, r'dkim=(policy|fail|permerror) \(.*?\) header.d=signed.test '
                         r'header.s=short')

    def test_large_signed_message_is_verified_off_the_loop(self):
        mk = token()
        body = b''.join(b'line %06d of a large signed message, to pass the inline limit\r\n' % i
                        for i in range(8000)) + mk.encode() + b'\r\n'
        msg = dkim_sign(message(mk, sender='news@signed.test', body=body), 'ed', 'signed.test',
                        self.keys['ed'][0], 'ed25519-sha256')
        self.assertGreater(len(msg), 300 * 1024)
        self.send('news@signed.test', msg)
        self.assertIn('dkim=pass', authres(self.stored(mk))[0])

    def test_forged_results_claiming_our_name_are_removed(self):
        mk = token()
        forged = ('Authentication-Results: %s; dkim=pass header.d=bank.test\r\n'
                  'Authentication-Results: (comment) %s 1; spf=pass\r\n'
                  'Authentication-Results: other.example; spf=pass\r\n' % (HOSTNAME, HOSTNAME.upper()))
        self.send('someone@pass.test', message(mk, sender='someone@pass.test',
                                               extra_headers=forged.encode()))
        stored = self.stored(mk)
        ar = authres(stored)
        self.assertEqual(len(ar), 2, ar)     # ours, and the other server's
        self.assertRegex(ar[0], r'spf=pass \(.*\) smtp.mailfrom=someone@pass.test')
        self.assertEqual(ar[1], 'other.example; spf=pass')
        self.assertNotIn(b'bank.test', stored)

    def test_many_signatures_cost_bounded_time(self):
        mk = token()
        sig = ('DKIM-Signature: v=1; a=rsa-sha256; d=signed.test; s=rsa; h=from; bh=%s; b=%s\r\n'
               % ('A' * 43 + '=', 'B' * 88)).encode()
        msg = message(mk, sender='news@signed.test', extra_headers=sig * 1000)  # under 256 KB
        t0 = time.time()
        self.send('news@signed.test', msg)
        self.assertLess(time.time() - t0, 5)
        ar = authres(self.stored(mk))[0]
        self.assertEqual(ar.count('dkim=fail'), 10, ar)  # the first ten are checked
        self.assertIn('dkim=policy (990 more signatures not checked)', ar)
        self.assertLess(len(ar), 3000)


class TestDmarc(MailAuthCase):

    def test_reject_policy_refuses_forged_mail_with_a_sentence(self):
        mk = token()
        resp = self.send('ceo@reject.test', message(mk, sender='ceo@reject.test'), expect=550)
        self.assertTrue(resp.startswith('5.7.1'), resp)
        self.assertIn('reject.test', resp)
        self.assertIn('DMARC', resp)
        self.assertEqual(self.srv.find('alice@example.test', mk), [])
        self.assertEqual([m for m in self.srv.export_maildir('alice@example.test', 'Junk')
                          if mk.encode() in m], [])
        self.assertRegex(self.srv.log_text(), r'event=mailauth .*from_domain=reject.test '
                         r'spf=fail dkim=none dmarc=fail action=reject')

    def test_quarantine_policy_puts_mail_in_junk(self):
        mk = token()
        self.send('billing@quar.test', message(mk, sender='billing@quar.test'))
        ar = authres(self.stored(mk, 'Junk'))[0]
        self.assertIn('dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test', ar)
        self.assertIn('$Junk', self.flags('Junk', mk))

    def test_subdomain_gets_sp(self):
        mk = token()
        self.send('x@sub.reject.test', message(mk, sender='x@sub.reject.test'))
        ar = authres(self.stored(mk, 'Junk'))[0]
        self.assertIn('dmarc=fail (sp=quarantine dis=quarantine) header.from=sub.reject.test',
                      ar)

    def test_policy_none_delivers_and_reports_fail(self):
        mk = token()
        self.send('x@monitor.test', message(mk, sender='x@monitor.test'))
        ar = authres(self.stored(mk))[0]
        self.assertIn('dmarc=fail (p=none dis=none) header.from=monitor.test', ar)

    def test_aligned_dkim_passes_dmarc_whatever_the_envelope(self):
        mk = token()
        msg = dkim_sign(message(mk, sender='news@signed.test'), 'ed', 'signed.test',
                        self.keys['ed'][0], 'ed25519-sha256')
        self.send('bounces@esp.test', msg)  # a newsletter service's envelope: no SPF
        ar = authres(self.stored(mk))[0]
        self.assertIn('dkim=pass', ar)
        self.assertIn('dmarc=pass (p=reject dis=none) header.from=signed.test', ar)

    def test_changed_signed_mail_from_a_reject_domain_is_refused(self):
        mk = token()
        msg = dkim_sign(message(mk, sender='news@signed.test'), 'rsa', 'signed.test',
                        self.keys['rsa'][0])
        msg = msg.replace(b'Hello from', b'Pay this invoice from')
        self.send('bounces@esp.test', msg, expect=550)

    def test_two_from_fields_are_refused(self):
        mk = token()
        msg = message(mk, sender='someone@pass.test', extra_headers=b'From: <ceo@reject.test>\r\n')
        resp = self.send('someone@pass.test', msg, expect=550)
        self.assertTrue(resp.startswith('5.7.1'), resp)
        self.assertIn('more than one From', resp)


    def swaks(self, sender, msg):
        """swaks (a real SMTP client) sends msg as is; it adds the final CRLF itself."""
        swaks = ensure_debian_package('swaks', 'swaks')
        self.assertTrue(swaks, 'swaks is not installed')
        fd, path = tempfile.mkstemp(suffix='.eml', dir=self.tmp)
        with os.fdopen(fd, 'wb') as f:
            f.write(msg[:-2] if msg.endswith(b'\r\n') else msg)
        cp = subprocess.run([swaks, '--server', '127.0.0.1', '--port', str(self.srv.smtp_port),
                             '--from', sender, '--to', 'alice@example.test',
                             '--helo', 'swaks.pass.test', '--data', '@' + path, '--timeout', '20'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        return cp.stdout.decode(errors='replace')

    def test_swaks_sends_signed_and_forged_mail(self):
        mk = token()
        msg = dkim_sign(message(mk, sender='news@signed.test'), 'rsa', 'signed.test',
                        self.keys['rsa'][0])
        out = self.swaks('bounces@esp.test', msg)
        self.assertIn('250 2.0.0', out)
        self.assertIn('dmarc=pass', authres(self.stored(mk))[0])
        mk = token()
        # unsigned, From: signed.test, envelope elsewhere: neither SPF nor DKIM aligned
        out = self.swaks('bounces@esp.test', message(mk, sender='ceo@signed.test').replace(
            b'Hello', b'Urgent wire transfer'))
        self.assertIn('<** 550 5.7.1', out)
        self.assertEqual(self.srv.find('alice@example.test', mk), [])


class TestDmarcRejectAsJunk(MailAuthCase):
    EXTRA_CONFIG = {'dmarc-reject': 'junk'}

    def test_reject_policy_goes_to_junk_when_so_configured(self):
        mk = token()
        self.send('ceo@reject.test', message(mk, sender='ceo@reject.test'))
        self.assertIn('dmarc=fail (p=reject dis=reject)', authres(self.stored(mk, 'Junk'))[0])


class TestDmarcObservations(MailAuthCase):
    """With dmarc-reports = on, every checked message from a domain whose record asks for
    reports (rua=) is counted for the aggregate report we send it."""
    EXTRA_CONFIG = {'dmarc-reports': 'on'}
    RECORDS = ['--txt-record=asks.test,v=spf1 ip4:192.0.2.1 -all',
               '--txt-record=_dmarc.asks.test,v=DMARC1; p=quarantine; pct=100; '
               'rua=mailto:agg@asks.test!10m']

    def test_outcomes_are_counted_for_the_report(self):
        for i in range(3):
            self.send('list@asks.test', message(token(), sender='list@asks.test'))
        self.send('someone@pass.test', message(token(), sender='someone@pass.test'))  # no DMARC
        db = sqlite3.connect('file:%s?mode=ro' % os.path.join(self.srv.data, 'store.db'),
                             uri=True, timeout=10)
        try:
            rows = db.execute('SELECT domain, source_ip, header_from, disposition, dkim, spf, '
                              'spf_domain, spf_result, p, rua, count FROM dmarc_observed'
                              ).fetchall()
        finally:
            db.close()
        self.assertEqual(rows, [('asks.test', '127.0.0.1', 'asks.test', 'quarantine', 'fail',
                                 'fail', 'asks.test', 'fail', 'quarantine',
                                 'mailto:agg@asks.test!10485760', 3)])


class TestDnsTimeout(MailAuthCase):
    EXTRA_CONFIG = {'mailauth-timeout': '1'}
    RECORDS = ['--txt-record=late.test,v=spf1 include:x.slow.test -all']

    def test_unanswered_dns_is_temperror_and_delivered_within_the_budget(self):
        mk = token()
        t0 = time.time()
        self.send('someone@late.test', message(mk, sender='someone@late.test'))
        self.assertLess(time.time() - t0, 4)
        self.assertIn('spf=temperror', authres(self.stored(mk))[0])


class TestDnsTempfail(MailAuthCase):
    EXTRA_CONFIG = {'mailauth-timeout': '1', 'dns-temperror': 'tempfail'}
    RECORDS = ['--txt-record=late.test,v=spf1 include:x.slow.test -all']

    def test_tempfail_setting_answers_451_4_4_3(self):
        mk = token()
        with smtplib.SMTP('127.0.0.1', self.srv.smtp_port, timeout=30) as s:
            s.ehlo('client.pass.test')
            s.mail('someone@late.test')
            s.rcpt('alice@example.test')
            code, resp = s.data(message(mk, sender='someone@late.test'))
        self.assertEqual(code, 451, resp)
        self.assertTrue(resp.startswith(b'4.4.3'), resp)
        self.assertEqual(self.srv.find('alice@example.test', mk), [])


class TestTrustedNetworks(MailAuthCase):
    EXTRA_CONFIG = {'trusted-networks': '127.0.0.0/8'}

    def test_trusted_sender_is_not_checked(self):
        mk = token()
        self.send('someone@fail.test', message(mk, sender='someone@fail.test'))
        self.assertEqual(authres(self.stored(mk)), [])


if __name__ == '__main__':
    unittest.main()
