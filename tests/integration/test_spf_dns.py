"""SPF checks through the real asynchronous resolver (libunbound on an event loop, as the
server runs them) against a real DNS server: dnsmasq on 127.0.0.55:<port> serving the zones
below, plus a UDP socket that never answers (for timeouts). build/spf-suite --resolver runs
one check and prints its result and how long it took.

Zones (*.test is local: any other name is NXDOMAIN):
  pass.test      v=spf1 a:host.pass.test ip6:2001:db8:2::/48 -all
  host.pass.test 127.0.0.2 and 2001:db8:1::7
  split.test     one TXT record of two strings: "v=spf1 ip4:" "127.0.0.3 -all"
  mx.test        v=spf1 mx -all; MX 10 mail.mx.test (127.0.0.4)
  ptr.test       v=spf1 ptr -all; 198.18.0.5 <-> host5.ptr.test (not a loopback address:
                 libunbound answers 127.in-addr.arpa itself)
  loop1/2.test   include each other
  eleven.test    eleven a: terms on names that exist
  void.test      three exists: on names that do not exist
  slow.test      forwarded to a server that never answers
  servfail.test  forwarded to a server that answers SERVFAIL to everything
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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# next to the yubin under test (build/ or build-asan/), unless SPF_SUITE_BIN says otherwise
DRIVER = os.environ.get('SPF_SUITE_BIN') or os.path.join(
    os.path.dirname(os.path.abspath(os.environ.get('YUBIN_BIN', os.path.join(ROOT, 'build', 'yubin')))),
    'spf-suite')
DNS_ADDR = '127.0.0.55'
SILENT_ADDR = '127.0.0.56'


def free_udp_port(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def answer_servfail(sock):
    """A DNS server whose every answer is SERVFAIL (RCODE 2), question echoed."""
    while True:
        try:
            data, peer = sock.recvfrom(4096)
        except OSError:
            return  # closed by tearDownClass
        if len(data) >= 12:
            flags = 0x8000 | (data[2] & 0x79) << 8 | 0x80 | 2  # QR, opcode+RD, RA, SERVFAIL
            sock.sendto(data[:2] + flags.to_bytes(2, 'big') + data[4:6] + b'\0' * 6 + data[12:],
                        peer)


class SpfThroughDns(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        dnsmasq = ensure_debian_package('dnsmasq', 'dnsmasq-base')
        if not dnsmasq:
            raise AssertionError('dnsmasq is not installed and apt-get install dnsmasq-base failed')
        if not os.access(DRIVER, os.X_OK):
            raise AssertionError('%s is missing (make all builds it)' % DRIVER)
        cls.tmp = tempfile.mkdtemp(prefix='yubin-spf-')
        # a server that takes queries and never answers them
        cls.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.silent.bind((SILENT_ADDR, 0))
        silent_port = cls.silent.getsockname()[1]
        cls.servfail = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.servfail.bind((SILENT_ADDR, 0))
        servfail_port = cls.servfail.getsockname()[1]
        threading.Thread(target=answer_servfail, args=(cls.servfail,), daemon=True).start()
        cls.port = free_udp_port(DNS_ADDR)
        eleven = ' '.join('a:h%d.eleven.test' % i for i in range(1, 12))
        records = [
            '--txt-record=pass.test,v=spf1 a:host.pass.test ip6:2001:db8:2::/48 -all',
            '--host-record=host.pass.test,127.0.0.2,2001:db8:1::7',
            '--txt-record=split.test,v=spf1 ip4:,127.0.0.3 -all',
            '--txt-record=mx.test,v=spf1 mx -all',
            '--mx-host=mx.test,mail.mx.test,10',
            '--host-record=mail.mx.test,127.0.0.4',
            '--txt-record=ptr.test,v=spf1 ptr -all',
            '--host-record=host5.ptr.test,198.18.0.5',
            '--txt-record=loop1.test,v=spf1 include:loop2.test -all',
            '--txt-record=loop2.test,v=spf1 include:loop1.test -all',
            '--txt-record=eleven.test,v=spf1 %s -all' % eleven,
            '--txt-record=void.test,v=spf1 exists:n1.void.test exists:n2.void.test '
            'exists:n3.void.test -all',
            '--txt-record=timeout.test,v=spf1 include:spf.slow.test -all',
            '--txt-record=servfail.test,v=spf1 include:spf.servfail.test -all',
            '--server=/slow.test/%s#%d' % (SILENT_ADDR, silent_port),
            '--server=/servfail.test/%s#%d' % (SILENT_ADDR, servfail_port),
        ] + ['--host-record=h%d.eleven.test,10.0.0.%d' % (i, i) for i in range(1, 12)]
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
            r = cls.check('127.0.0.2', 'pass.test')
            if r['result'] == 'pass':
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
    def check(cls, ip, domain, timeout_ms=None, wall=30):
        args = [DRIVER, '--resolver', '%s@%d' % (DNS_ADDR, cls.port)]
        if timeout_ms:
            args += ['--timeout-ms', str(timeout_ms)]
        args += [ip, 'helo.example', 'someone@' + domain]
        p = subprocess.run(args, capture_output=True, text=True, timeout=wall)
        fields = p.stdout.rstrip('\n').split('\t')
        if p.returncode != 0 or fields[0] != 'RESULT' or len(fields) < 7:
            raise AssertionError('spf-suite %r: rc %d %r %r' % (args, p.returncode, p.stdout,
                                                                 p.stderr))
        return dict(result=fields[1], mech=fields[2], exp=fields[3], queries=int(fields[4]),
                    reason=fields[5], ms=int(fields[6]))

    def assertResult(self, ip, domain, result, mech=None):
        r = self.check(ip, domain)
        self.assertEqual(r['result'], result, r)
        if mech is not None:
            self.assertEqual(r['mech'], mech, r)
        return r

    def test_mechanisms_over_dns(self):
        self.assertResult('127.0.0.2', 'pass.test', 'pass', 'a:host.pass.test')
        self.assertResult('127.0.0.9', 'pass.test', 'fail', '-all')
        self.assertResult('127.0.0.3', 'split.test', 'pass', 'ip4:127.0.0.3')
        self.assertResult('127.0.0.4', 'mx.test', 'pass', 'mx')
        self.assertResult('127.0.0.2', 'mx.test', 'fail')
        self.assertResult('198.18.0.5', 'ptr.test', 'pass', 'ptr')
        self.assertResult('198.18.0.6', 'ptr.test', 'fail')
        self.assertResult('127.0.0.2', 'nothing-here.test', 'none')

    def test_ipv6_over_dns(self):
        self.assertResult('2001:db8:1::7', 'pass.test', 'pass', 'a:host.pass.test')
        self.assertResult('2001:db8:2:ff::1', 'pass.test', 'pass', 'ip6:2001:db8:2::/48')
        self.assertResult('2001:db8:3::1', 'pass.test', 'fail', '-all')

    def test_limits_over_dns(self):
        r = self.assertResult('127.0.0.2', 'loop1.test', 'permerror')
        self.assertLessEqual(r['queries'], 3, r)
        r = self.assertResult('10.0.0.11', 'eleven.test', 'permerror')
        self.assertIn('more than 10', r['reason'])
        r = self.assertResult('127.0.0.2', 'void.test', 'permerror')
        self.assertEqual(r['queries'], 4, r)  # the TXT and three exists: queries

    def test_timeout_is_temperror_in_bounded_time(self):
        r = self.check('127.0.0.2', 'timeout.test', timeout_ms=2000, wall=20)
        self.assertEqual(r['result'], 'temperror', r)
        self.assertLess(r['ms'], 6000, r)

    def test_servfail_is_temperror(self):
        # answered, not timed out: well before the 10 s deadline
        r = self.check('127.0.0.2', 'servfail.test', timeout_ms=10000, wall=30)
        self.assertEqual(r['result'], 'temperror', r)
        self.assertLess(r['ms'], 8000, r)


if __name__ == '__main__':
    unittest.main()
