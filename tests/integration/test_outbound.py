"""Outbound delivery (docs/outbound.md) against real peers on loopback, no DNS mocks.

Peers, started once for this module and stopped at its end (even when a test fails):
  - dnsmasq on 127.0.0.53:<port> serving the test zones below (yubin's `resolver` points at it);
  - a private Postfix instance as the remote MX: 127.0.0.2:<P> (mx.remote.test, SMTPUTF8, STARTTLS,
    PIPELINING) and 127.0.0.3:<P> (mx.old.test: no SMTPUTF8, no PIPELINING, 100 kB SIZE limit);
    both refuse DATA from a client that sends more after it before the 354
    (reject_unauth_pipelining), a virtual(8) Maildir per
    domain (messages told apart by Delivered-To), a texthash recipient access table that makes
    chosen recipients answer 450 or 550 (changed with `postfix reload`).
yubin's `outbound-port` is <P>; 127.0.0.9:<P> has no listener (connection refused).

Zones:
  remote.test   MX 10 mx.remote.test (127.0.0.2)
  multi.test    MX 10 dead.multi.test (127.0.0.9, nothing listens), MX 20 mx.remote.test
  order.test    MX 10 mx.old.test, MX 20 mx.remote.test
                (dnsmasq 2.90 lists the MX 20 first in both answers)
  amx.test      no MX, A 127.0.0.2
  nullmx.test   MX 0 .  (RFC 7505)
  nowhere.test  MX 10 mx.nowhere.test (127.0.0.9)
  dead.test     MX 10 mx.dead.test (127.0.0.9)
  old.test      MX 10 mx.old.test (127.0.0.3)
Mail goes in through submission (587 + offset, STARTTLS, AUTH) as a local user."""

import calendar
import email
import email.policy
import email.utils
import glob
import os
import random
import re
import shutil
import smtplib
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_PASSWORD, RawSMTP, Server, dot_stuff,  # noqa: E402
                     ensure_debian_package, token, unfold)
from test_postfix_interop import ensure_postfix  # noqa: E402

ALICE = 'alice@example.test'
BOB = 'bob@example.test'
DNS_ADDR = '127.0.0.53'
MX_ADDR = '127.0.0.2'       # mx.remote.test
OLD_ADDR = '127.0.0.3'      # mx.old.test
DEAD_ADDR = '127.0.0.9'     # nothing listens here
OLD_SIZE_LIMIT = 100000

# Short schedule for the class that watches retries, warnings and bounces happen.
RETRY_MIN, RETRY_MAX, DELAY_WARNING, LIFETIME = 2, 4, 4, 10

NEXT_RE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$')
# What a plain-words explanation of a refused connection might say.
UNREACHABLE_WORDS = re.compile(r'(?i)refus|connect|reach|respond|answer|down|not available')

DNS = None
MX = None


def _free(addr, port, udp=False):
    for kind in ((socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pick_port(addrs, udp=False):
    """A port free on every address in addrs (41000-49000: apart from the harness's offsets)."""
    for _ in range(200):
        p = random.randint(41000, 49000)
        if all(_free(a, p, udp) for a in addrs):
            return p
    raise AssertionError('no free port on %s' % (addrs,))


def wait_for(what, fn, timeout, interval=0.25):
    """Poll fn() until it returns something true; return it. Fails with `what` (a str or a
    callable giving one, for a message that shows what was observed) after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %.0f s waiting for %s' % (
                timeout, what() if callable(what) else what))
        time.sleep(interval)


# ---- DNS -----------------------------------------------------------------------------------
def dns_query(server, port, name, qtype):
    """One UDP query; returns (rcode, [(type, rdata bytes, message bytes, rdata offset)])."""
    tid = random.randint(0, 65535)
    pkt = struct.pack('>HHHHHH', tid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip('.').split('.'):
        pkt += bytes([len(label)]) + label.encode()
    pkt += b'\0' + struct.pack('>HH', qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(pkt, (server, port))
        data, _ = s.recvfrom(4096)
    finally:
        s.close()
    _, flags, qd, an, _, _ = struct.unpack('>HHHHHH', data[:12])
    off = 12
    for _ in range(qd):
        off = _skip_name(data, off) + 4
    answers = []
    for _ in range(an):
        off = _skip_name(data, off)
        rtype, _, _, rdlen = struct.unpack('>HHIH', data[off:off + 10])
        off += 10
        answers.append((rtype, data[off:off + rdlen], data, off))
        off += rdlen
    return flags & 0xf, answers


def _skip_name(data, off):
    while True:
        n = data[off]
        if n == 0:
            return off + 1
        if n & 0xc0:
            return off + 2
        off += 1 + n


def _read_name(data, off):
    labels = []
    while True:
        n = data[off]
        if n == 0:
            break
        if n & 0xc0:
            off = ((n & 0x3f) << 8) | data[off + 1]
            continue
        labels.append(data[off + 1:off + 1 + n].decode())
        off += 1 + n
    return '.'.join(labels) + '.'


def mx_answer(server, port, name):
    rcode, answers = dns_query(server, port, name, 15)
    return rcode, [(struct.unpack('>H', rd[:2])[0], _read_name(msg, off + 2))
                   for t, rd, msg, off in answers if t == 15]


class DnsServer:
    """dnsmasq in the foreground on DNS_ADDR:port, authoritative-ish for *.test only."""

    RECORDS = [
        '--mx-host=remote.test,mx.remote.test,10',
        '--host-record=mx.remote.test,' + MX_ADDR,
        '--mx-host=multi.test,dead.multi.test,10',
        '--mx-host=multi.test,mx.remote.test,20',
        '--host-record=dead.multi.test,' + DEAD_ADDR,
        '--mx-host=order.test,mx.old.test,10',
        '--mx-host=order.test,mx.remote.test,20',
        '--host-record=mx.old.test,' + OLD_ADDR,
        '--host-record=amx.test,' + MX_ADDR,
        '--dns-rr=nullmx.test,15,000000',          # MX 0 .  (preference 0, root name)
        '--mx-host=nowhere.test,mx.nowhere.test,10',
        '--host-record=mx.nowhere.test,' + DEAD_ADDR,
        '--mx-host=dead.test,mx.dead.test,10',
        '--host-record=mx.dead.test,' + DEAD_ADDR,
        '--mx-host=old.test,mx.old.test,10',
    ]

    def __init__(self, tmp):
        self.dnsmasq = ensure_debian_package('dnsmasq', 'dnsmasq-base')
        if not self.dnsmasq:
            raise AssertionError('dnsmasq is not installed and apt-get install dnsmasq-base failed')
        self.port = pick_port([DNS_ADDR], udp=True)
        self.log = os.path.join(tmp, 'dnsmasq.log')
        self.proc = None

    def start(self):
        args = [self.dnsmasq, '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv',
                '--no-hosts', '--no-negcache', '--port=%d' % self.port,
                '--listen-address=' + DNS_ADDR, '--bind-interfaces', '--pid-file=',
                '--local=/test/', '--log-queries', '--log-facility=' + self.log] + self.RECORDS
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        wait_for('dnsmasq on %s:%d' % (DNS_ADDR, self.port), self._answers, 10, 0.1)
        self.self_check()

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError('dnsmasq exited %s: %s' % (self.proc.returncode,
                                                           self.proc.stdout.read()))
        try:
            return mx_answer(DNS_ADDR, self.port, 'remote.test')[1]
        except OSError:
            return None

    def self_check(self):
        """The zones say what the tests assume (fails early, naming the fixture, if not)."""
        q = lambda n: mx_answer(DNS_ADDR, self.port, n)  # noqa: E731
        assert q('remote.test') == (0, [(10, 'mx.remote.test.')]), q('remote.test')
        assert sorted(q('multi.test')[1]) == [(10, 'dead.multi.test.'), (20, 'mx.remote.test.')]
        assert q('amx.test') == (0, []), q('amx.test')
        assert q('nullmx.test') == (0, [(0, '.')]), q('nullmx.test')
        order = q('order.test')[1]
        assert sorted(order) == [(10, 'mx.old.test.'), (20, 'mx.remote.test.')], order
        rcode, a = dns_query(DNS_ADDR, self.port, 'amx.test', 1)
        assert rcode == 0 and [x[1] for x in a] == [socket.inet_aton(MX_ADDR)], a

    def log_text(self):
        try:
            with open(self.log, errors='replace') as f:
                return f.read()
        except OSError:
            return '(no dnsmasq log)'

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()      # our own child, by its PID
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


# ---- Postfix as the remote MX ---------------------------------------------------------------
class RemoteMX:
    DOMAINS = ('remote.test', 'multi.test', 'order.test', 'amx.test', 'old.test')

    def __init__(self, tmp):
        if not ensure_postfix():
            raise AssertionError('postfix is not installed and apt-get install postfix failed')
        self.dir = os.path.join(tmp, 'postfix')
        self.conf = os.path.join(self.dir, 'conf')
        self.queue = os.path.join(self.dir, 'queue')
        self.data = os.path.join(self.dir, 'data')
        self.logdir = os.path.join(self.dir, 'log')
        self.vmail = os.path.join(self.dir, 'vmail')
        for d in (self.dir, self.conf, self.queue, self.data, self.logdir, self.vmail):
            os.mkdir(d)
            os.chmod(d, 0o755)
        shutil.chown(self.data, 'postfix', 'postfix')
        shutil.chown(self.vmail, 'nobody', 'nogroup' if _group_exists('nogroup') else 65534)
        self.log = os.path.join(self.logdir, 'postfix.log')
        self.access_file = os.path.join(self.conf, 'recipient_access')
        self.port = pick_port([MX_ADDR, OLD_ADDR, DEAD_ADDR])
        self.access = {}
        self._write_access()
        with open(os.path.join(self.conf, 'vmailbox'), 'w') as f:
            for d in self.DOMAINS:                      # one catch-all Maildir per domain
                f.write('@%s %s/\n' % (d, d))
        cert = os.path.join(self.conf, 'cert.pem')
        key = os.path.join(self.conf, 'key.pem')
        openssl = ensure_debian_package('openssl', 'openssl')
        if not openssl:
            raise AssertionError('openssl is not installed and could not be')
        cp = subprocess.run([openssl, 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                             'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj',
                             '/CN=mx.remote.test', '-keyout', key, '-out', cert],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if cp.returncode != 0:
            raise AssertionError('openssl req: %s' % cp.stdout.decode(errors='replace'))
        main = {
            'compatibility_level': '3.6',
            'myhostname': 'mx.remote.test',
            'mydomain': 'remote.test',
            'myorigin': 'remote.test',
            'mydestination': '',
            'inet_interfaces': '127.0.0.1',
            'inet_protocols': 'ipv4',
            'mynetworks': '127.0.0.0/8',
            'queue_directory': self.queue,
            'data_directory': self.data,
            'maillog_file': self.log,
            'maillog_file_prefixes': self.logdir,
            'virtual_mailbox_domains': ' '.join(self.DOMAINS),
            'virtual_mailbox_maps': 'texthash:' + os.path.join(self.conf, 'vmailbox'),
            'virtual_mailbox_base': self.vmail,
            'virtual_uid_maps': 'static:65534',
            'virtual_gid_maps': 'static:65534',
            'smtpd_recipient_restrictions': 'check_recipient_access texthash:' + self.access_file,
            'default_transport': 'error:no mail leaves this test machine',
            'relay_transport': 'error:no mail leaves this test machine',
            'smtp_dns_support_level': 'disabled',
            'smtp_host_lookup': 'native',
            'smtpd_peername_lookup': 'no',
            'smtpd_tls_security_level': 'may',
            'smtpd_tls_cert_file': cert,
            'smtpd_tls_key_file': key,
            'smtpd_tls_loglevel': '1',
            'smtputf8_enable': 'yes',
            # A client that sends more after DATA before the 354 (the message, say) gets 503
            # "improper use of SMTP command pipelining". (Pipelined MAIL/RCPT are not visible
            # to Postfix; tests read yubin's pipelined=yes/no log field for those.)
            'smtpd_data_restrictions': 'reject_unauth_pipelining',
            'alias_maps': '',
            'alias_database': '',
            'local_recipient_maps': '',
            'biff': 'no',
            'delay_warning_time': '0',
            # Keep a Return-Path sent by the client visible (Postfix drops it by default).
            'drop_headers': 'bcc, content-length, resent-bcc',
        }
        with open(os.path.join(self.conf, 'main.cf'), 'w') as f:
            for k, v in main.items():
                f.write('%s = %s\n' % (k, v))
        shutil.copy('/etc/postfix/master.cf' if os.path.exists('/etc/postfix/master.cf')
                    else '/usr/share/postfix/master.cf.dist', os.path.join(self.conf, 'master.cf'))
        self.postconf('-MX', 'smtp/inet')
        self.postconf('-M', '%s:%d/inet=%s:%d inet n - n - - smtpd' % (
            MX_ADDR, self.port, MX_ADDR, self.port))
        # mx.old.test: an older server without SMTPUTF8 and PIPELINING, with a small SIZE limit.
        self.postconf('-M', '%s:%d/inet=%s:%d inet n - n - - smtpd -o smtputf8_enable=no '
                      '-o smtpd_discard_ehlo_keywords=pipelining '
                      '-o message_size_limit=%d -o myhostname=mx.old.test' % (
                          OLD_ADDR, self.port, OLD_ADDR, self.port, OLD_SIZE_LIMIT))
        self.postconf('-F', '*/*/chroot = n')

    def postconf(self, *args):
        cp = subprocess.run(['postconf', '-c', self.conf, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=30)
        if cp.returncode != 0:
            raise AssertionError('postconf %s: %s' % (args, cp.stdout.decode()))

    def _write_access(self):
        with open(self.access_file + '.tmp', 'w') as f:
            for addr, reply in self.access.items():
                f.write('%s %s\n' % (addr, reply))
        os.rename(self.access_file + '.tmp', self.access_file)

    def start(self):
        cp = subprocess.run(['postfix', '-c', self.conf, 'start'], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=60)
        if cp.returncode != 0:
            raise AssertionError('postfix start failed: %s\n%s' % (cp.stdout.decode(),
                                                                   self.log_text()))
        for addr in (MX_ADDR, OLD_ADDR):
            wait_for('postfix listening on %s:%d; log:\n%s' % (addr, self.port, self.log_text()),
                     lambda: self._greets(addr), 15, 0.1)

    def _greets(self, addr):
        try:
            with RawSMTP(self.port, host=addr, timeout=3) as c:
                ok = c.greeting.code == 220
                c.cmd('QUIT')
                return ok
        except (OSError, AssertionError):
            return False

    def probe_rcpt(self, rcpt):
        """The code Postfix gives RCPT TO:<rcpt> right now (a fresh session)."""
        with RawSMTP(self.port, host=MX_ADDR, timeout=5) as c:
            c.ehlo('probe.example.test')
            c.cmd('MAIL FROM:<probe@example.test>')
            code = c.cmd('RCPT TO:<%s>' % rcpt).code
            c.cmd('QUIT')
            return code

    def set_access(self, addr, reply=None):
        """Make Postfix answer `reply` (e.g. '450 try later') at RCPT for addr; None: accept.
        The table is texthash (read when smtpd starts), so Postfix is reloaded; returns once a
        probe session sees the new answer."""
        if reply is None:
            self.access.pop(addr, None)
        else:
            self.access[addr] = reply
        self._write_access()
        cp = subprocess.run(['postfix', '-c', self.conf, 'reload'], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=60)
        if cp.returncode != 0:
            raise AssertionError('postfix reload: %s' % cp.stdout.decode())
        want = int(reply.split()[0]) if reply else 250
        wait_for('postfix to answer %d for %s after reload' % (want, addr),
                 lambda: self.probe_rcpt(addr) == want, 15, 0.2)

    def maildir(self, addr):
        """Messages delivered to addr (bytes as Postfix stored them, LF line ends): those in
        its domain's Maildir whose Delivered-To header (added by virtual(8)) names addr."""
        domain = addr.rsplit('@', 1)[1]
        want = b'\nDelivered-To: ' + addr.encode() + b'\n'
        out = []
        for sub in ('new', 'cur'):
            for p in sorted(glob.glob(os.path.join(self.vmail, domain, sub, '*'))):
                with open(p, 'rb') as f:
                    m = f.read()
                head = b'\n' + m.split(b'\n\n', 1)[0] + b'\n'
                if want.lower() in head.lower():
                    out.append(m)
        return out

    def wait_mail(self, addr, timeout=15, count=1):
        return wait_for(lambda: '%d message(s) for %s at Postfix; postfix log tail:\n%s' % (
            count, addr, self.log_text()[-3000:]),
            lambda: (lambda m: m if len(m) >= count else None)(self.maildir(addr)), timeout)

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, 'pid', 'master.pid')) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def stop(self):
        pid = self.master_pid()
        subprocess.run(['postfix', '-c', self.conf, 'stop'], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        deadline = time.monotonic() + 10
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.1)
        if pid:
            try:
                os.kill(pid, 9)    # our own instance's master, by its PID
            except OSError:
                pass

    def log_text(self):
        try:
            with open(self.log, errors='replace') as f:
                return f.read()
        except OSError:
            return '(no postfix log)'


def _group_exists(name):
    import grp
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


_TMP = None


def setUpModule():
    global DNS, MX, _TMP
    _TMP = tempfile.mkdtemp(prefix='yubin-outbound-')
    os.chmod(_TMP, 0o755)
    try:
        DNS = DnsServer(_TMP)
        DNS.start()
        MX = RemoteMX(_TMP)
        MX.start()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    global DNS, MX
    try:
        if MX:
            MX.stop()
    finally:
        if DNS:
            DNS.stop()
        DNS = MX = None
        if _TMP and not os.environ.get('YUBIN_KEEP'):
            shutil.rmtree(_TMP, ignore_errors=True)


# ---- helpers on the yubin side ---------------------------------------------------------------
def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def submit(srv, sender, rcpts, msg, mail_options=()):
    """Send through submission (587 + offset, STARTTLS, AUTH) as sender; every RCPT must be
    accepted and the message too."""
    s = smtplib.SMTP('127.0.0.1', srv.port_offset + 587, timeout=20)
    try:
        s.starttls(context=tls_ctx())
        s.ehlo()
        s.login(sender, DEFAULT_PASSWORD)
        refused = s.sendmail(sender, rcpts, msg, mail_options=list(mail_options))
        if refused:
            raise AssertionError('recipients refused at submission: %r' % refused)
        s.quit()
    finally:
        s.close()


def compose(marker, sender, to, subject='outbound', body=None, extra=b''):
    if body is None:
        body = (b'Hello from yubin\'s outbound tests.\r\n'
                b'.a line starting with a dot\r\n'
                b'..two dots\r\n'
                b'\r\n'
                b'marker ' + marker.encode() + b'\r\n')
    return (b'From: Alice <' + sender.encode() + b'>\r\n'
            b'To: ' + ', '.join(to).encode() + b'\r\n'
            b'Subject: ' + subject.encode() + b' ' + marker.encode() + b'\r\n'
            b'Message-ID: <' + marker.encode() + b'@example.test>\r\n'
            b'Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n'
            b'MIME-Version: 1.0\r\n' + extra +
            b'\r\n' + body)


def queue_list(srv):
    cp = srv.run('queue', 'list', check=False)
    if cp.returncode != 0:
        raise AssertionError('yubin queue list exited %d: %s' % (
            cp.returncode, (cp.stdout + cp.stderr).decode(errors='replace')))
    entries = []
    for line in cp.stdout.decode('utf-8', 'replace').splitlines():
        if not line.strip():
            continue
        f = line.split('\t')
        if len(f) != 7:
            raise AssertionError('queue list line has %d tab-separated fields, expected 7: %r'
                                 % (len(f), line))
        if not re.fullmatch(r'\d+', f[4]):
            raise AssertionError('ATTEMPTS is not a number: %r' % line)
        # FROM may be shown bare or in <> (a null sender is <>).
        sender = f[2][1:-1] if f[2].startswith('<') and f[2].endswith('>') else f[2]
        entries.append({'id': f[0], 'domain': f[1], 'from': sender,
                        'rcpts': [r.strip('<>') for r in re.split(r'[,\s]+', f[3]) if r],
                        'attempts': int(f[4]), 'next': f[5], 'last': f[6], 'line': line})
    return entries


def entries_for(srv, marker):
    """Queue entries with a recipient containing marker (tests put it in the local part)."""
    return [e for e in queue_list(srv) if any(marker in r for r in e['rcpts'])]


def parse_next(s):
    return calendar.timegm(time.strptime(s, '%Y-%m-%d %H:%M:%S UTC'))


class Dsn:
    """A delivery status notification as stored in the sender's INBOX."""

    def __init__(self, stored):
        self.stored = stored
        m = re.match(rb'Return-Path: <([^>\r\n]*)>\r\n', stored)
        if not m:
            raise AssertionError('stored message does not start with Return-Path: %r'
                                 % stored[:200])
        # A DSN is made here, not received: a Received header of its own is optional.
        self.return_path, rest = m.group(1), stored[m.end():]
        self.msg = email.message_from_bytes(rest, policy=email.policy.compat32)
        self.parts = self.msg.get_payload() if self.msg.is_multipart() else []
        self.text = ''
        self.headers = ''
        if len(self.parts) >= 1:
            self.text = self.parts[0].get_payload(decode=True).decode('utf-8', 'replace')
        if len(self.parts) >= 3:
            h = self.parts[2].get_payload(decode=True)
            self.headers = (h or b'').decode('utf-8', 'replace') if not isinstance(h, str) else h
        # The status fields, from the raw bytes of the second part (kept as sent).
        self.status_raw = self.headers_raw = b''
        self.fields = []    # list of dicts: [per-message, per-recipient...]
        boundary = self.msg.get_param('boundary')
        if boundary:
            raw = rest.split(b'\r\n--' + boundary.encode())
            if len(raw) >= 3:
                part = raw[2].split(b'\r\n\r\n', 1)
                self.status_raw = part[1] if len(part) == 2 else b''
            if len(raw) >= 4:
                part = raw[3].split(b'\r\n\r\n', 1)
                self.headers_raw = part[1] if len(part) == 2 else b''
        text = self.status_raw.decode('utf-8', 'replace')
        for blk in re.split(r'\r\n(?:[ \t]*\r\n)+', text.strip()):
            d = {}
            for f in re.finditer(r'(?m)^([A-Za-z-]+):[ \t]*(.*(?:\r\n[ \t].*)*)', blk):
                d[f.group(1).lower()] = ' '.join(f.group(2).split())
            if d:
                self.fields.append(d)

    def recipients(self):
        """{address: fields}; a `utf-8` address type (RFC 6533) has its \\x{HEX} decoded."""
        out = {}
        for f in self.fields:
            if 'final-recipient' not in f:
                continue
            kind, _, addr = f['final-recipient'].partition(';')
            addr = addr.strip()
            if kind.strip().lower() == 'utf-8':
                addr = re.sub(r'\\x\{([0-9A-Fa-f]{1,6})\}', lambda m: chr(int(m.group(1), 16)),
                              addr)
            out[addr.lower()] = f
        return out

    def action(self):
        acts = {f.get('action', '').lower() for f in self.recipients().values()}
        return acts.pop() if len(acts) == 1 else acts


def dsns(srv, marker, action=None):
    """DSNs in ALICE's INBOX about the message with marker (the original headers quote it)."""
    out = []
    for m in srv.find(ALICE, marker):
        if not m.startswith(b'Return-Path: <>\r\n'):
            continue
        d = Dsn(m)
        if action is None or d.action() == action:
            out.append(d)
    return out


TRACE_HEADERS = {'return-path', 'x-original-to', 'delivered-to', 'received', 'dkim-signature',
                 'arc-seal', 'arc-message-signature', 'arc-authentication-results'}


class OutboundCase(unittest.TestCase):
    """Helpers shared by the classes below; each class has its own yubin server."""
    CONFIG = {}
    INIT_ARGS = ()

    @classmethod
    def setUpClass(cls):
        config = {'outbound-port': str(MX.port)}
        config.update(cls.CONFIG)
        init_args = list(cls.INIT_ARGS)
        if '--resolver' not in init_args:
            config['resolver'] = '%s@%d' % (DNS_ADDR, DNS.port)
        cls.srv = Server(accounts=[ALICE, BOB], config=config, init_args=init_args)
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        srv = cls.srv
        try:
            if srv.alive():
                srv.check()
        finally:
            srv.__exit__(None, None, None)

    def diag(self):
        return ('\n--- yubin queue list ---\n%s\n--- yubin log tail ---\n%s\n'
                '--- postfix log tail ---\n%s\n--- dnsmasq log tail ---\n%s' % (
                    self.srv.run('queue', 'list', check=False).stdout.decode(errors='replace'),
                    self.srv.log_tail(30), MX.log_text()[-2500:], DNS.log_text()[-1200:]))

    def wait_mail(self, addr, timeout=15, count=1):
        try:
            return MX.wait_mail(addr, timeout, count)
        except AssertionError as e:
            raise AssertionError(str(e) + self.diag())

    def wait_dsn(self, marker, action, timeout):
        try:
            return wait_for('a DSN with Action: %s for %s in %s\'s INBOX' % (action, marker, ALICE),
                            lambda: dsns(self.srv, marker, action), timeout, 0.4)
        except AssertionError as e:
            raise AssertionError(str(e) + self.diag())

    def wait_queue_gone(self, marker, timeout):
        try:
            wait_for('queue entries for %s to go' % marker,
                     lambda: not entries_for(self.srv, marker), timeout)
        except AssertionError as e:
            raise AssertionError(str(e) + self.diag())

    def assert_arrived_intact(self, got, sent, rcpt, sender=ALICE):
        """got (Postfix's Maildir file, LF) = Postfix's trace headers (+ our Received) + sent."""
        crlf = got.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
        self.assertTrue(crlf.endswith(sent), 'message at Postfix is not the message sent plus '
                        'trace headers:\n--- sent ---\n%r\n--- at Postfix ---\n%r' % (sent, crlf))
        prefix = crlf[:len(crlf) - len(sent)]
        names = [h.split(b':', 1)[0].decode().lower()
                 for h in re.split(rb'\r\n(?![ \t])', prefix) if h]
        self.assertTrue(set(names) <= TRACE_HEADERS,
                        'headers added on the way other than trace headers: %s' % names)
        self.assertTrue(prefix.startswith(b'Return-Path: <' + sender.encode() + b'>\r\n'), prefix)
        self.assertEqual(names.count('return-path'), 1, 'a Return-Path header was sent along '
                         '(RFC 5321 4.4: only the final delivery adds it):\n%r' % prefix)
        self.assertIn(b'Delivered-To: ' + rcpt.encode() + b'\r\n', prefix)
        return prefix

    def assert_dsn_shape(self, d, rcpts, action, status_class):
        self.assertEqual(d.return_path, b'', 'a DSN must have an empty envelope sender')
        self.assertEqual(d.msg.get_content_type(), 'multipart/report', d.stored[:600])
        self.assertEqual((d.msg.get_param('report-type') or '').lower(), 'delivery-status')
        frm = email.utils.parseaddr(d.msg.get('From', ''))[1]
        self.assertEqual(frm.lower(), 'mailer-daemon@example.test', d.msg.get('From'))
        self.assertIn(ALICE, d.msg.get('To', ''))
        self.assertGreaterEqual(len(d.parts), 3, 'expected 3 parts (text, delivery-status, '
                                'headers): %s' % [p.get_content_type() for p in d.parts])
        self.assertEqual(d.parts[0].get_content_type(), 'text/plain')
        # RFC 3464 fields and text/rfc822-headers are ASCII. With UTF-8 (RFC 6533): an address
        # goes as `utf-8; j\x{F6}rg@...` or the part is message/global-delivery-status, and
        # UTF-8 headers go in message/global-headers.
        kind, hkind = d.parts[1].get_content_type(), d.parts[2].get_content_type()
        self.assertIn(kind, ('message/delivery-status', 'message/global-delivery-status'))
        self.assertIn(hkind, ('text/rfc822-headers', 'message/global-headers'))
        eight = lambda b: [l for l in b.split(b'\r\n') if re.search(rb'[\x80-\xff]', l)]  # noqa
        problems = ['%s has 8-bit line %r' % (k, l) for k, raw in (
            (kind, d.status_raw if kind == 'message/delivery-status' else b''),
            (hkind, d.headers_raw if hkind == 'text/rfc822-headers' else b'')) for l in eight(raw)]
        if problems:
            self.fail('not RFC 6533 conformant:\n' + '\n'.join(problems))
        self.assertTrue(d.fields and 'reporting-mta' in d.fields[0],
                        'no per-message Reporting-MTA field: %r' % d.fields)
        got = d.recipients()
        self.assertEqual(set(got), {r.lower() for r in rcpts},
                         'Final-Recipient fields: %r' % d.fields)
        for r, f in got.items():
            self.assertEqual(f.get('action', '').lower(), action, f)
            self.assertRegex(f.get('status', ''), r'^%s\.\d{1,3}\.\d{1,3}$' % status_class, f)
        for r in rcpts:
            self.assertIn(r.lower(), d.text.lower(), 'the explanation should name %s:\n%s'
                          % (r, d.text))
        self.assertGreater(len(d.text.strip()), 80, 'explanation too short:\n' + d.text)
        return got


# ---- the short-schedule server: deliveries, bounces, retries as they happen ------------------
class Outbound(OutboundCase):
    # One connection per message here: these tests change Postfix's recipient table between
    # messages (set_access), which reaches only new smtpd sessions, not a connection yubin
    # keeps open. Kept connections are tested in test_outbound_reuse.py.
    CONFIG = {'queue-retry-min': str(RETRY_MIN), 'queue-retry-max': str(RETRY_MAX),
              'delay-warning': str(DELAY_WARNING), 'queue-lifetime': str(LIFETIME),
              'outbound-reuse': '1'}

    def test_delivers_to_remote_mx_and_local_recipient_at_once(self):
        t = token()
        x, y = 'x-%s@remote.test' % t, 'y-%s@remote.test' % t
        body = ('Gr\u00fc\u00dfe aus Tokyo, \u65e5\u672c\u8a9e (8bit body)\r\n'
                '.leading dot\r\n..\r\n.\r\nmarker ' + t + '\r\n').encode()
        msg = compose(t, ALICE, [x, y, BOB], body=body,
                      extra=b'Content-Type: text/plain; charset=utf-8\r\n'
                            b'Content-Transfer-Encoding: 8bit\r\n')
        submit(self.srv, ALICE, [x, y, BOB], msg, mail_options=['BODY=8BITMIME'])
        # The local recipient has it as soon as the submission is accepted.
        local = self.srv.find(BOB, t)
        self.assertEqual(len(local), 1, 'local recipient not delivered at once')
        self.assertTrue(local[0].endswith(msg))
        gx = self.wait_mail(x)
        gy = self.wait_mail(y)
        self.assertEqual((len(gx), len(gy)), (1, 1))
        px = self.assert_arrived_intact(gx[0], msg, x)
        py = self.assert_arrived_intact(gy[0], msg, y)
        # Postfix's own Received header: STARTTLS was used, both recipients in one transaction
        # (one queue entry per domain), sent by yubin's hostname.
        rx = [unfold(h + b'\r\n') for h in re.split(rb'\r\n(?![ \t])', px)
              if h.startswith(b'Received:') and b'mx.remote.test' in h]
        self.assertTrue(rx, px)
        self.assertRegex(rx[0], r'with (ESMTPS|UTF8SMTPS) ', 'no STARTTLS to the remote MX: '
                         + rx[0])
        ids = [re.search(r'with \S+ id (\w+)', unfold(h + b'\r\n')).group(1)
               for p in (px, py) for h in re.split(rb'\r\n(?![ \t])', p)
               if h.startswith(b'Received:') and b'mx.remote.test' in h]
        self.assertEqual(len(set(ids)), 1, 'two recipients of one domain should go in one '
                         'transaction; Postfix queue ids: %s' % ids)
        self.assertRegex(MX.log_text(), r'Anonymous TLS connection established from')
        self.wait_queue_gone(t, 5)
        self.assertEqual(dsns(self.srv, t), [])

    def test_mx_preference_fallback_and_order(self):
        t = token()
        m, o = 'm-%s@multi.test' % t, 'o-%s@order.test' % t
        msg = compose(t, ALICE, [m, o])
        submit(self.srv, ALICE, [m, o], msg)
        gm = self.wait_mail(m)
        go = self.wait_mail(o)
        self.assert_arrived_intact(gm[0], msg, m)
        po = self.assert_arrived_intact(go[0], msg, o)
        # order.test: MX 10 is mx.old.test (127.0.0.3), MX 20 mx.remote.test, the answer lists
        # the 20 first; the lower preference must be tried first (RFC 5321 5.1).
        self.assertIn(b'by mx.old.test', po, 'order.test delivered through the MX 20 host, not '
                      'MX 10 (mx.old.test):\n%r' % po)
        # multi.test: the MX 10 host (nothing listens) was tried before falling back to MX 20.
        self.assertRegex(DNS.log_text(), r'query\[A\] dead\.multi\.test from',
                         'the MX 10 host of multi.test was never looked up')
        self.wait_queue_gone(t, 5)
        self.assertEqual(dsns(self.srv, t), [])

    def test_a_record_when_no_mx(self):
        t = token()
        r = 'a-%s@amx.test' % t
        msg = compose(t, ALICE, [r])
        submit(self.srv, ALICE, [r], msg)
        self.assert_arrived_intact(self.wait_mail(r)[0], msg, r)
        self.wait_queue_gone(t, 5)

    def test_null_mx_bounces_at_once(self):
        t = token()
        r = 'n-%s@nullmx.test' % t
        msg = compose(t, ALICE, [r])
        t0 = time.monotonic()
        submit(self.srv, ALICE, [r], msg)
        got = self.wait_dsn(t, 'failed', RETRY_MIN + 3)
        self.assertLess(time.monotonic() - t0, RETRY_MIN + 3)
        self.assertEqual(len(got), 1)
        d = got[0]
        self.assert_dsn_shape(d, [r], 'failed', '5')
        self.assertIn('Subject: outbound ' + t, d.headers)
        self.assertIn('Message-ID: <%s@example.test>' % t, d.headers)
        self.assertRegex(d.text, r'(?i)nullmx\.test', 'the explanation should name the domain')
        self.wait_queue_gone(t, 3)
        self.assertNotIn(t, ''.join(e['line'] for e in queue_list(self.srv)))

    def test_5xx_rejection_bounces_with_dsn(self):
        t = token()
        bad, good = 'nosuch-%s@remote.test' % t, 'ok-%s@remote.test' % t
        MX.set_access(bad, '550 5.1.1 no such user')
        try:
            msg = compose(t, ALICE, [bad, good])
            submit(self.srv, ALICE, [bad, good], msg)
            self.assert_arrived_intact(self.wait_mail(good)[0], msg, good)
            got = self.wait_dsn(t, 'failed', 10)
        finally:
            MX.set_access(bad, None)
        self.assertEqual(len(got), 1)
        d = got[0]
        f = self.assert_dsn_shape(d, [bad], 'failed', '5')[bad.lower()]
        self.assertEqual(f.get('status'), '5.1.1', f)
        self.assertRegex(f.get('diagnostic-code', ''), r'(?i)^smtp;\s*550\b.*no such user', f)
        self.assertIn('no such user', d.text, 'the remote reply should be quoted:\n' + d.text)
        self.assertNotIn(good, d.text)
        self.assertIn('Subject: outbound ' + t, d.headers)
        self.assertIn('From: Alice <%s>' % ALICE, d.headers)
        self.assertNotIn('marker ' + t, d.headers, 'the third part should be headers only')
        self.assertEqual(MX.maildir(bad), [])
        self.wait_queue_gone(t, 5)
        # One bounce only, and nothing bounces the bounce.
        time.sleep(1)
        self.assertEqual(len(dsns(self.srv, t)), 1)

    def test_4xx_then_automatic_retry(self):
        t = token()
        r = 'retry-%s@remote.test' % t
        MX.set_access(r, '450 4.2.0 try later')
        try:
            msg = compose(t, ALICE, [r])
            submit(self.srv, ALICE, [r], msg)
            e = wait_for(lambda: 'a failed attempt for %s%s' % (r, self.diag()),
                         lambda: [e for e in entries_for(self.srv, t) if e['attempts'] >= 1],
                         8)[0]
            self.assertEqual(e['domain'], 'remote.test')
            self.assertEqual(e['rcpts'], [r])
            self.assertEqual(e['from'], ALICE)
            self.assertRegex(e['next'], NEXT_RE)
            self.assertIn('try later', e['last'], 'LAST should quote the remote reply: %r'
                          % e['line'])
            self.assertEqual(MX.maildir(r), [])
        finally:
            MX.set_access(r, None)
        # No command: the server retries by itself after queue-retry-min (2 s).
        got = self.wait_mail(r, timeout=RETRY_MAX + 6)
        self.assert_arrived_intact(got[0], msg, r)
        self.wait_queue_gone(t, 5)
        self.assertEqual(dsns(self.srv, t, 'failed'), [])

    def test_unreachable_retries_warns_then_bounces(self):
        t = token()
        a, b = 'a-%s@nowhere.test' % t, 'b-%s@nowhere.test' % t
        msg = compose(t, ALICE, [a, b])
        t0 = time.monotonic()
        submit(self.srv, ALICE, [a, b], msg)
        # A second message, deleted from the queue: it must never bounce.
        td = token()
        gone = 'd-%s@dead.test' % td
        submit(self.srv, ALICE, [gone], compose(td, ALICE, [gone]))
        de = wait_for('the entry for %s' % gone, lambda: entries_for(self.srv, td), 5)
        self.assertEqual(len(de), 1, de)
        cp = self.srv.run('queue', 'delete', de[0]['id'], check=False)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(entries_for(self.srv, td), [])

        # A sender whose account is deleted while the message waits: its bounce has nowhere
        # to go and is dropped (not queued anywhere, not bounced again).
        carol = 'carol-%s@example.test' % t
        self.srv.add_account(carol)
        tc = token()
        cr = 'c-%s@dead.test' % tc
        submit(self.srv, carol, [cr], compose(tc, carol, [cr]))
        wait_for('the entry for %s' % cr, lambda: entries_for(self.srv, tc), 5)
        self.srv.run('account', 'del', carol)

        seen = []          # (elapsed, entry)
        warned_at = failed_at = None
        deadline = t0 + LIFETIME + RETRY_MAX + 10
        while time.monotonic() < deadline:
            now = time.monotonic() - t0
            es = entries_for(self.srv, t)
            seen += [(now, e) for e in es]
            if warned_at is None and dsns(self.srv, t, 'delayed'):
                warned_at = now
            if failed_at is None and dsns(self.srv, t, 'failed'):
                failed_at = now
            if failed_at is not None and not es:
                break
            time.sleep(0.3)
        diag = 'entries seen: %s%s' % ([(round(n, 1), e['attempts'], e['last'])
                                        for n, e in seen], self.diag())
        self.assertTrue(seen, 'never saw a queue entry for %s' % t + diag)
        first = seen[0][1]
        self.assertEqual(len({e['id'] for _, e in seen}), 1, 'one entry per (message, domain)'
                         + diag)
        self.assertEqual(first['domain'], 'nowhere.test')
        self.assertEqual(sorted(first['rcpts']), sorted([a, b]))
        self.assertEqual(first['from'], ALICE)
        attempts = [e['attempts'] for _, e in seen]
        self.assertEqual(attempts, sorted(attempts), 'attempts went down' + diag)
        self.assertGreaterEqual(max(attempts), 2, 'retries did not happen' + diag)
        for _, e in seen:
            self.assertRegex(e['next'], NEXT_RE, e['line'])
            if e['attempts'] >= 1:
                self.assertNotEqual(e['last'], 'not tried yet', e['line'])
                self.assertRegex(e['last'], UNREACHABLE_WORDS,
                                 'LAST should say in plain words the server could not be '
                                 'reached: %r' % e['line'])
        # Retries double from queue-retry-min up to queue-retry-max: attempts at about 0, 2,
        # 6, 10 s, so NEXT moves by 2..4 s each time (8 would mean no cap).
        nexts = sorted({parse_next(e['next']) for _, e in seen if e['attempts'] >= 1})
        steps = [b - a for a, b in zip(nexts, nexts[1:])]
        self.assertTrue(steps and all(RETRY_MIN - 1 <= d <= RETRY_MAX + 1 for d in steps),
                        'NEXT steps %s s, expected %d..%d' % (steps, RETRY_MIN, RETRY_MAX) + diag)
        self.assertIsNotNone(warned_at, 'no delay warning' + diag)
        self.assertGreaterEqual(warned_at, DELAY_WARNING - 0.5, 'warning came too early')
        self.assertLessEqual(warned_at, DELAY_WARNING + RETRY_MAX + 3, 'warning came late')
        self.assertIsNotNone(failed_at, 'no bounce after queue-lifetime' + diag)
        self.assertGreaterEqual(failed_at, LIFETIME - 0.5, 'bounced before queue-lifetime')
        self.assertLessEqual(failed_at, LIFETIME + RETRY_MAX + 3, 'bounce came late')
        self.assertEqual(entries_for(self.srv, t), [], 'entry still queued after the bounce')
        warn = dsns(self.srv, t, 'delayed')
        self.assertEqual(len(warn), 1, 'exactly one delay warning')
        self.assert_dsn_shape(warn[0], [a, b], 'delayed', '4')
        fail = dsns(self.srv, t, 'failed')
        self.assertEqual(len(fail), 1, 'exactly one bounce')
        self.assert_dsn_shape(fail[0], [a, b], 'failed', '[45]')
        self.assertIn('Subject: outbound ' + t, fail[0].headers)
        # The deleted message: no bounce, though it is past its lifetime now.
        self.assertEqual(self.srv.find(ALICE, td), [], 'a deleted entry bounced')
        # The deleted sender's entry is gone too (lifetime over), nothing queued in its place.
        self.wait_queue_gone(tc, RETRY_MAX + 2)
        self.assertEqual([e['line'] for e in queue_list(self.srv) if e['from'] in ('', carol)],
                         [], 'a bounce for a deleted sender was queued')
        self.assertEqual(self.srv.find_anywhere(tc), {})
        self.assertTrue(self.srv.alive())

    def test_smtputf8_negotiated_or_bounced(self):
        t = token()
        # The message needs SMTPUTF8 (non-ASCII recipient): fine at mx.remote.test, bounced
        # with an explanation for mx.old.test, which does not offer SMTPUTF8.
        ok, old = 'j\u00f6rg-%s@remote.test' % t, 'j\u00f6rg-%s@old.test' % t
        msg = ('From: Alice <%s>\r\nTo: %s, %s\r\nSubject: outbound %s \u00fcber\r\n'
               'Message-ID: <%s@example.test>\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n'
               'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n'
               'Content-Transfer-Encoding: 8bit\r\n\r\nGr\u00fc\u00dfe\r\nmarker %s\r\n'
               % (ALICE, ok, old, t, t, t)).encode()
        submit(self.srv, ALICE, [ok, old], msg, mail_options=['SMTPUTF8', 'BODY=8BITMIME'])
        prefix = self.assert_arrived_intact(self.wait_mail(ok)[0], msg, ok)
        self.assertIn(b'with UTF8SMTPS id', prefix, 'SMTPUTF8 not used with mx.remote.test')
        d = self.wait_dsn(t, 'failed', 10)
        self.assertEqual(len(d), 1)
        self.assertEqual(MX.maildir(old), [])
        self.assertRegex(d[0].text, r'(?i)SMTPUTF8|international|non-ASCII|UTF-8',
                         'the bounce should explain the SMTPUTF8 problem:\n' + d[0].text)
        self.assert_dsn_shape(d[0], [old], 'failed', '5')

    def test_size_respected(self):
        # A message over mx.old.test's advertised SIZE: not sent (yubin may stop on seeing the
        # EHLO SIZE, or declare SIZE= at MAIL and be refused there), and it bounces at once.
        t = token()
        big = 'big-%s@old.test' % t
        line = b'x' * 76 + b'\r\n'
        body = line * (OLD_SIZE_LIMIT // len(line) + 200) + b'marker ' + t.encode() + b'\r\n'
        submit(self.srv, ALICE, [big], compose(t, ALICE, [big], body=body))
        d = self.wait_dsn(t, 'failed', 10)
        self.assertEqual(len(d), 1)
        self.assert_dsn_shape(d[0], [big], 'failed', '5')
        self.assertRegex(d[0].text, r'(?i)size|big|large', d[0].text)
        self.assertNotIn('message file too big', MX.log_text(),
                         'the whole message was sent although the server announced its SIZE')
        self.assertEqual(MX.maildir(big), [])
        self.wait_queue_gone(t, 3)

    def test_sessions_end_with_quit(self):
        # RFC 5321 4.1.1.10: the client MUST NOT close the channel before sending QUIT. Every
        # session of yubin's (the only client here using STARTTLS) in Postfix's log, including
        # those of the other tests, ends with a QUIT.
        t = token()
        r = 'q-%s@remote.test' % t
        submit(self.srv, ALICE, [r], compose(t, ALICE, [r]))
        self.wait_mail(r)
        self.wait_queue_gone(t, 5)
        time.sleep(0.5)
        ours = [l for l in MX.log_text().splitlines()
                if 'postfix/smtpd' in l and ' disconnect from ' in l and 'starttls=1' in l]
        self.assertTrue(ours, 'no session of yubin\'s in the Postfix log')
        no_quit = [l.split(': ', 1)[-1] for l in ours if 'quit=1' not in l]
        if no_quit:
            self.fail('%d of %d sessions closed without QUIT:\n%s'
                      % (len(no_quit), len(ours), '\n'.join(no_quit)))

    # ---- forwarding aliases (an alias whose target is in another domain) --------------------
    def forward(self, alias, *targets):
        cp = self.srv.run('alias', 'add', alias, *targets, check=False)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.addCleanup(self.srv.run, 'alias', 'del', alias, check=False)
        return cp

    def send_mx(self, sender, rcpts, msg):
        """Over port 25 as another server would, without logging in; returns the final reply."""
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<%s>' % sender).code, 250)
            for r in rcpts:
                rr = c.cmd('RCPT TO:<%s>' % r)
                self.assertEqual(rr.code, 250, (r, rr))
            self.assertEqual(c.cmd('DATA').code, 354)
            c.send(dot_stuff(msg) + b'.\r\n')
            return c.reply()

    def test_forwarding_alias_mixed_local_and_remote(self):
        t = token()
        fwd, far = 'fwd-%s@example.test' % t, 'f-%s@remote.test' % t
        cp = self.forward(fwd, BOB, far)
        self.assertRegex((cp.stdout + cp.stderr).decode(), r'(?i)SRS|SPF',
                         'alias add should warn that forwarding keeps the sender (no SRS)')
        orig = 'someone-%s@sender.example' % t
        msg = compose(t, orig, [fwd])
        r = self.send_mx(orig, [fwd], msg)
        self.assertEqual(r.code, 250, r)
        # The local member has it at once; the other domain gets it through the queue, with
        # the original envelope sender.
        self.assertEqual(len(self.srv.find(BOB, t)), 1)
        got = self.wait_mail(far)
        self.assertEqual(len(got), 1)
        prefix = self.assert_arrived_intact(got[0], msg, far, sender=orig)
        self.assertIn(b'by mail.example.test (yubin)', prefix, 'our Received header is kept')
        self.wait_queue_gone(t, 5)
        self.assertEqual(dsns(self.srv, t), [])

    def test_forwarding_opens_no_relay(self):
        t = token()
        fwd, far = 'only-%s@example.test' % t, 'o-%s@remote.test' % t
        self.forward(fwd, far)
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<x@sender.example>').code, 250)
            # The target itself, or any other address there, is not reachable through us.
            for rcpt in (far, 'other-%s@remote.test' % t, 'o-%s%%remote.test@example.test' % t,
                         '@example.test:%s' % far):
                r = c.cmd('RCPT TO:<%s>' % rcpt)
                self.assertIn(r.code, (550, 554), (rcpt, r))
            self.assertEqual(c.cmd('RCPT TO:<%s>' % fwd).code, 250)
            c.cmd('RSET')
        # A catch-all may not point at another domain (it would forward every made-up name).
        cp = self.srv.run('domain', 'catchall', 'example.test', far, check=False)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertEqual(entries_for(self.srv, t), [])

    def test_forwarded_mail_refused_bounces_to_remote_sender(self):
        t = token()
        fwd, rej = 'fb-%s@example.test' % t, 'rej-%s@remote.test' % t
        orig = 'orig-%s@remote.test' % t
        self.forward(fwd, rej)
        MX.set_access(rej, '550 5.1.1 no such user')
        try:
            r = self.send_mx(orig, [fwd], compose(t, orig, [fwd]))
            self.assertEqual(r.code, 250, r)
            # The bounce goes back through the queue to the original sender, from <>.
            got = self.wait_mail(orig)
        finally:
            MX.set_access(rej, None)
        self.assertEqual(len(got), 1)
        bounce = got[0].replace(b'\n', b'\r\n')
        self.assertTrue(bounce.startswith(b'Return-Path: <>\r\n'), bounce[:300])
        d = Dsn(bounce)
        self.assertEqual(d.msg.get_content_type(), 'multipart/report')
        self.assertIn(rej.lower(), d.recipients())
        self.assertIn('no such user', d.text)
        self.assertEqual(MX.maildir(rej), [])
        self.wait_queue_gone(t, 5)
        self.assertEqual(self.srv.find_anywhere(t), {})

    def test_null_sender_never_bounced(self):
        """A message with an empty envelope sender that a forwarding alias passes on, and that
        the other server refuses, is dropped, not bounced (there is nobody to tell)."""
        t = token()
        fwd = 'fwd-%s@example.test' % t
        target = 'n-%s@remote.test' % t
        self.forward(fwd, target)
        MX.set_access(target, '550 5.1.1 no such user')
        try:
            r = self.send_mx('', [fwd], compose(t, 'mailer-daemon@remote.test', [fwd]))
            self.assertEqual(r.code, 250, r)
            # It did go out, with MAIL FROM:<>, and was refused there.
            wait_for(lambda: 'Postfix refusing %s from <>; log tail:\n%s%s' % (
                target, MX.log_text()[-2000:], self.diag()),
                lambda: re.search(r'reject: RCPT from .*<%s>.*from=<> to=<%s>' % (
                    re.escape(target), re.escape(target)), MX.log_text()), 10)
        finally:
            MX.set_access(target, None)
        self.wait_queue_gone(t, RETRY_MIN + 4)
        time.sleep(1)
        self.assertEqual(self.srv.find_anywhere(t), {}, 'a null-sender message was bounced')
        self.assertEqual([e['line'] for e in queue_list(self.srv) if t in e['line']], [],
                         'something was queued about the null-sender message')
        self.assertEqual(MX.maildir(target), [])

    def test_mail_loop_stopped_by_hop_count(self):
        """Two forwarding servers pointing at each other: each pass adds a Received header;
        past max-hops (50) the message is refused with 554 5.4.6 instead of going round."""
        t = token()
        fwd = 'loop-%s@example.test' % t
        self.forward(fwd, 'back-%s@remote.test' % t)
        hops = lambda n: b''.join(b'Received: from hop%d.example by hop%d.example; '  # noqa
                                  b'Thu, 1 Jan 2026 00:00:00 +0000\r\n' % (i, i + 1)
                                  for i in range(n))
        r = self.send_mx('x@sender.example', [fwd], hops(50) + compose(t, 'x@sender.example',
                                                                       [fwd]))
        self.assertEqual(r.code, 554, r)
        self.assertEqual(r.enhanced, '5.4.6', r)
        self.assertRegex(r.text, r'(?i)loop')
        self.assertEqual(entries_for(self.srv, t), [])
        # At the limit (49 + ours = 50) it still passes. (Postfix, with the same limit of 50,
        # then stops it after adding its own.)
        t2 = token()
        r = self.send_mx('x@sender.example', [fwd], hops(49) + compose(t2, 'x@sender.example',
                                                                       [fwd]))
        self.assertEqual(r.code, 250, r)
        self.wait_queue_gone(t, 5)


# ---- the default-schedule server: the queue commands ----------------------------------------
class QueueCommands(OutboundCase):
    """Retries are 300 s apart here, so whatever happens next is the command's doing. The
    resolver comes from `yubin init --resolver`."""

    @classmethod
    def setUpClass(cls):
        cls.INIT_ARGS = ('--resolver', '%s@%d' % (DNS_ADDR, DNS.port))
        super().setUpClass()

    def test_init_writes_resolver(self):
        with open(os.path.join(self.srv.data, 'yubin.conf')) as f:
            conf = f.read()
        self.assertRegex(conf, r'(?m)^\s*resolver\s*=\s*%s@%d\s*$'
                         % (re.escape(DNS_ADDR), DNS.port))

    def test_list_show_delete(self):
        t = token()
        x, y, z = ('x-%s@nowhere.test' % t, 'y-%s@nowhere.test' % t, 'z-%s@dead.test' % t)
        msg = compose(t, ALICE, [x, y, z])
        before = time.time()
        submit(self.srv, ALICE, [x, y, z], msg)
        es = wait_for(lambda: 'two tried entries for %s%s' % (t, self.diag()),
                      lambda: (lambda es: es if len(es) == 2 and
                               all(e['attempts'] >= 1 for e in es) else None)(
                                   entries_for(self.srv, t)), 10)
        by = {e['domain']: e for e in es}
        self.assertEqual(set(by), {'nowhere.test', 'dead.test'})
        self.assertEqual(sorted(by['nowhere.test']['rcpts']), sorted([x, y]))
        self.assertEqual(by['dead.test']['rcpts'], [z])
        for e in es:
            self.assertEqual(e['from'], ALICE)
            self.assertEqual(e['attempts'], 1, e['line'])
            self.assertRegex(e['next'], NEXT_RE)
            nxt = parse_next(e['next'])
            self.assertTrue(before + 300 - 5 <= nxt <= time.time() + 300 + 5,
                            'NEXT should be about queue-retry-min (300 s) after the attempt: %r'
                            % e['line'])
            self.assertRegex(e['last'], UNREACHABLE_WORDS, e['line'])
        self.assertNotEqual(by['nowhere.test']['id'], by['dead.test']['id'])

        eid = by['nowhere.test']['id']
        cp = self.srv.run('queue', 'show', eid, check=False)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out = cp.stdout.decode('utf-8', 'replace')
        for want in (eid, 'nowhere.test', ALICE, x, y, 'Subject: outbound ' + t,
                     'Message-ID: <%s@example.test>' % t, by['nowhere.test']['next']):
            self.assertIn(want, out, 'queue show lacks %r:\n%s' % (want, out))
        fields = out.split('\n\n', 1)[0]
        self.assertNotIn(z, fields, 'the other entry\'s recipient listed')
        self.assertNotIn('marker ' + t, out, 'queue show prints the headers, not the body')

        # The queue is durable: after a crash (SIGKILL) and a new start both entries are there
        # as they were (nothing is due yet, so nothing is tried).
        self.srv.kill9()
        self.srv.serve()
        time.sleep(1.5)
        def keep(es):
            return {e['id']: (e['domain'], sorted(e['rcpts']), e['attempts'], e['next'])
                    for e in es}
        self.assertEqual(keep(entries_for(self.srv, t)), keep(es))

        for e in es:
            cp = self.srv.run('queue', 'delete', e['id'], check=False)
            self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(entries_for(self.srv, t), [])
        for cmd in ('delete', 'show', 'retry'):
            cp = self.srv.run('queue', cmd, eid, check=False)
            self.assertEqual(cp.returncode, 1, '`queue %s` of a deleted entry: exit %d %r' % (
                cmd, cp.returncode, cp.stdout + cp.stderr))
            self.assertTrue(cp.stderr.strip() or cp.stdout.strip(), 'no explanation')
        self.assertEqual(self.srv.run('queue', 'frobnicate', check=False).returncode, 2)
        time.sleep(1)
        self.assertEqual(dsns(self.srv, t), [], 'delete must not bounce')

    def test_retry_and_flush(self):
        t1, t2 = token(), token()
        r1, r2 = 'rc-%s@remote.test' % t1, 'rf-%s@remote.test' % t2
        m1, m2 = compose(t1, ALICE, [r1]), compose(t2, ALICE, [r2])
        MX.set_access(r1, '450 4.2.0 try later')
        MX.set_access(r2, '450 4.2.0 try later')
        try:
            submit(self.srv, ALICE, [r1], m1)
            submit(self.srv, ALICE, [r2], m2)
            e1, e2 = [wait_for(lambda: 'a failed attempt for %s%s' % (tk, self.diag()),
                               lambda: [e for e in entries_for(self.srv, tk)
                                        if e['attempts'] >= 1], 8)[0] for tk in (t1, t2)]
            for e in (e1, e2):
                self.assertIn('try later', e['last'], e['line'])
        finally:
            MX.set_access(r1, None)
            MX.set_access(r2, None)
        # Nothing happens by itself for 300 s; `queue retry ID` makes it due now.
        time.sleep(1)
        self.assertEqual(MX.maildir(r1), [])
        cp = self.srv.run('queue', 'retry', e1['id'], check=False)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assert_arrived_intact(self.wait_mail(r1, timeout=5)[0], m1, r1)
        self.wait_queue_gone(t1, 3)
        # The other entry was not touched by that.
        left = entries_for(self.srv, t2)
        self.assertEqual([e['attempts'] for e in left], [1], left)
        self.assertEqual(MX.maildir(r2), [])
        cp = self.srv.run('queue', 'flush', check=False)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assert_arrived_intact(self.wait_mail(r2, timeout=5)[0], m2, r2)
        self.wait_queue_gone(t2, 3)
        self.assertEqual(dsns(self.srv, t1) + dsns(self.srv, t2), [])


if __name__ == '__main__':
    unittest.main()
