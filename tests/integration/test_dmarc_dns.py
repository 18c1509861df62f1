"""The DMARC policy lookup through the real asynchronous resolver (libunbound on an event loop,
as the server runs it, src/mailauth/dmarc_dns.c) against a real DNS server: dnsmasq on
127.0.0.57:<port> serving the zones below, plus UDP sockets that never answer or answer
SERVFAIL. build/dmarc-tool runs one lookup and prints what it found and how long it took.

Zones (*.test is local: any other name is NXDOMAIN):
  _dmarc.org.test    v=DMARC1; p=reject; sp=quarantine; np=reject; pct=50
  mail.org.test      127.0.0.9 (exists); ghost.org.test does not
  mx.org.test        only an MX record (exists: A is NODATA, not NXDOMAIN)
  _dmarc.own.org.test  v=DMARC1; p=none (a subdomain's own record)
  _dmarc.split.test  one TXT record of two strings "v=DMARC1; p=" "reject"
  _dmarc.two.test    two DMARC records (none, and no look further up)
  _dmarc.other.test  a TXT record that is not DMARC
  slow.test          forwarded to a server that never answers
  fail.test          forwarded to a server that answers SERVFAIL
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ensure_debian_package  # noqa: E402
from test_spf_dns import answer_servfail, free_udp_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get('DMARC_TOOL_BIN') or os.path.join(
    os.path.dirname(os.path.abspath(os.environ.get('YUBIN_BIN', os.path.join(ROOT, 'build', 'yubin')))),
    'dmarc-tool')
DNS_ADDR = '127.0.0.57'
SILENT_ADDR = '127.0.0.58'


class DmarcThroughDns(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        dnsmasq = ensure_debian_package('dnsmasq', 'dnsmasq-base')
        if not dnsmasq:
            raise AssertionError('dnsmasq is not installed and apt-get install dnsmasq-base failed')
        if not os.access(TOOL, os.X_OK):
            raise AssertionError('%s is missing (make all builds it)' % TOOL)
        cls.tmp = tempfile.mkdtemp(prefix='yubin-dmarc-')
        cls.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.silent.bind((SILENT_ADDR, 0))
        cls.servfail = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.servfail.bind((SILENT_ADDR, 0))
        threading.Thread(target=answer_servfail, args=(cls.servfail,), daemon=True).start()
        cls.port = free_udp_port(DNS_ADDR)
        records = [
            '--txt-record=_dmarc.org.test,v=DMARC1; p=reject; sp=quarantine; np=reject; pct=50',
            '--host-record=mail.org.test,127.0.0.9',
            '--mx-host=mx.org.test,mail.org.test,10',
            '--txt-record=_dmarc.own.org.test,v=DMARC1; p=none',
            '--txt-record=_dmarc.split.test,v=DMARC1; p=,reject',
            '--txt-record=_dmarc.two.test,v=DMARC1; p=reject',
            '--txt-record=_dmarc.two.test,v=DMARC1; p=none',
            '--txt-record=_dmarc.other.test,google-site-verification=abc',
            '--server=/slow.test/%s#%d' % (SILENT_ADDR, cls.silent.getsockname()[1]),
            '--server=/fail.test/%s#%d' % (SILENT_ADDR, cls.servfail.getsockname()[1]),
        ]
        args = [dnsmasq, '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv',
                '--no-hosts', '--no-negcache', '--port=%d' % cls.port,
                '--listen-address=' + DNS_ADDR, '--bind-interfaces', '--pid-file=',
                '--local=/test/', '--log-queries',
                '--log-facility=' + os.path.join(cls.tmp, 'dnsmasq.log')] + records
        cls.dns = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:  # up when it answers
            if cls.dns.poll() is not None:
                raise AssertionError('dnsmasq exited: %s' % cls.dns.stdout.read())
            r = cls.lookup('org.test')
            if r['found'] == 'from':
                break
            if time.time() > deadline:
                raise AssertionError('dnsmasq did not answer: %r' % r)
            time.sleep(0.2)

    @classmethod
    def tearDownClass(cls):
        cls.dns.terminate()  # our own child, by its PID
        try:
            cls.dns.wait(5)
        except subprocess.TimeoutExpired:
            cls.dns.kill()
            cls.dns.wait(5)
        cls.dns.stdout.close()
        cls.silent.close()
        cls.servfail.close()

    @classmethod
    def run_tool(cls, domain, timeout_ms=5000, cancel_ms=None, wall=30):
        args = [TOOL, '--resolver', '%s@%d' % (DNS_ADDR, cls.port),
                '--timeout-ms', str(timeout_ms)]
        if cancel_ms is not None:
            args += ['--cancel-after-ms', str(cancel_ms)]
        p = subprocess.run(args + [domain], capture_output=True, text=True, timeout=wall)
        if p.returncode != 0:
            raise AssertionError('dmarc-tool %r: rc %d %r %r' % (args, p.returncode, p.stdout,
                                                                 p.stderr))
        return p.stdout

    @classmethod
    def lookup(cls, domain, timeout_ms=5000):
        out = cls.run_tool(domain, timeout_ms)
        fields = out.rstrip('\n').split('\t')
        if fields[0] != 'LOOKUP' or len(fields) != 10:
            raise AssertionError('dmarc-tool %s: %r' % (domain, out))
        return dict(found=fields[1], domain=fields[2], p=fields[3], sp=fields[4], np=fields[5],
                    pct=int(fields[6]), exists=fields[7], ms=int(fields[8]), why=fields[9])

    def test_record_at_the_from_domain(self):
        r = self.lookup('org.test')
        self.assertEqual((r['found'], r['domain'], r['p'], r['sp'], r['np'], r['pct']),
                         ('from', 'org.test', 'reject', 'quarantine', 'reject', 50), r)
        r = self.lookup('own.org.test')
        self.assertEqual((r['found'], r['domain'], r['p']), ('from', 'own.org.test', 'none'), r)

    def test_org_domain_and_existence(self):
        # np= is published, so the From domain's existence is asked (RFC 9091)
        r = self.lookup('mail.org.test')
        self.assertEqual((r['found'], r['domain'], r['exists']), ('org', 'org.test', 'yes'), r)
        r = self.lookup('mx.org.test')
        self.assertEqual((r['found'], r['exists']), ('org', 'yes'), r)
        r = self.lookup('ghost.org.test')
        self.assertEqual((r['found'], r['domain'], r['exists']), ('org', 'org.test', 'no'), r)
        r = self.lookup('a.b.ghost.org.test')
        self.assertEqual((r['found'], r['domain'], r['exists']), ('org', 'org.test', 'no'), r)

    def test_strings_joined_and_records_chosen(self):
        r = self.lookup('split.test')
        self.assertEqual((r['found'], r['p']), ('from', 'reject'), r)
        r = self.lookup('two.test')
        self.assertEqual(r['found'], 'none', r)
        self.assertIn('more than one', r['why'])
        r = self.lookup('sub.two.test')
        self.assertEqual(r['found'], 'none', r)
        r = self.lookup('other.test')
        self.assertEqual(r['found'], 'none', r)
        self.assertEqual(r['why'], 'no DMARC record at _dmarc.other.test')
        r = self.lookup('nothing.test')
        self.assertEqual(r['found'], 'none', r)

    def test_timeout_is_tempfail_in_bounded_time(self):
        r = self.lookup('slow.test', timeout_ms=1500)
        self.assertEqual(r['found'], 'tempfail', r)
        self.assertLess(r['ms'], 3000, r)
        self.assertGreaterEqual(r['ms'], 1400, r)

    def test_servfail_is_tempfail(self):
        r = self.lookup('fail.test', timeout_ms=10000)
        self.assertEqual(r['found'], 'tempfail', r)
        self.assertLess(r['ms'], 8000, r)

    def test_cancel_never_calls_back(self):
        out = self.run_tool('slow.test', timeout_ms=1500, cancel_ms=300)
        self.assertEqual(out, 'CANCELLED\n')


if __name__ == '__main__':
    unittest.main()
