"""Integration-test harness: run a real `yubin serve` in a temp data dir.

Typical use (see test_smtp_basic.py):

    with Server(config={'max-recipients': 3}, accounts=['alice@example.test']) as srv:
        ... speak SMTP to 127.0.0.1:srv.smtp_port ...
        msgs = srv.export_maildir('alice@example.test')

The binary is $YUBIN_BIN or <repo>/build/yubin.  Everything listens on 127.0.0.1 only.
Set YUBIN_KEEP=1 to keep the temp directories (data dir, server log) after a run.
"""

import base64
import email.utils
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# `yubin init` turns spam scanning on when an rspamd answers on 127.0.0.1:11333; tests must not
# depend on whether this machine runs one, so the look is skipped unless a test asks for it.
os.environ.setdefault('YUBIN_RSPAMD_PROBE_URL', '')
BIN = os.environ.get('YUBIN_BIN') or os.path.join(REPO, 'build', 'yubin')
DOMAIN = 'example.test'
HOSTNAME = 'mail.' + DOMAIN
DEFAULT_PASSWORD = 'Secret-pass-123'
# Standard ports the server may open (now or later) with the port offset added.
STANDARD_PORTS = (25, 80, 110, 143, 443, 465, 587, 993, 995)
IO_TIMEOUT = 10.0


class HarnessError(AssertionError):
    """A failure of the server under test seen by the harness (start, CLI, exit code)."""


def _port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(('127.0.0.1', port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_port_offset():
    """An offset N such that 25+N (and every other standard port + N) is free, 25+N in 20000-40000."""
    for _ in range(500):
        n = random.randint(20000 - 25, 39000 - 25)
        if all(_port_free(p + n) for p in STANDARD_PORTS):
            return n
    raise HarnessError('no free port offset found in 20000-40000')


def yubin(*args, input=None, timeout=30, check=False):
    """Run the yubin binary; returns CompletedProcess (bytes)."""
    if isinstance(input, str):
        input = input.encode()
    cp = subprocess.run([BIN, *args], input=input if input is not None else b'',
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if check and cp.returncode != 0:
        raise HarnessError('yubin %s exited %d\nstdout: %s\nstderr: %s' % (
            ' '.join(args), cp.returncode, cp.stdout.decode(errors='replace'),
            cp.stderr.decode(errors='replace')))
    return cp


def token():
    """A unique marker to find a test's message among others."""
    return 'T' + uuid.uuid4().hex[:16]


class Server:
    """Context manager: init a data dir, configure, add accounts, serve, and stop with SIGTERM.

    config:   dict (or list of 'key = value' strings) appended to yubin.conf before start.
    accounts: list of addresses or dict address -> password, created before start
              (after config, so e.g. default-quota applies to them).
    setup:    callable(server) run after accounts and before start (aliases, domains...).
    init_args: extra arguments for `yubin init` (e.g. ['--hostname', 'mx.example.test']).
    """

    def __init__(self, config=None, accounts=(), setup=None, domain=DOMAIN, init_args=()):
        self.config = config or {}
        self.init_args = list(init_args)
        if isinstance(accounts, dict):
            self.accounts = dict(accounts)
        else:
            self.accounts = {a: DEFAULT_PASSWORD for a in accounts}
        self.setup = setup
        self.domain = domain
        self.proc = None
        self.exit_code = None
        self.parent = None
        self._log_file = None

    # ---- lifecycle -------------------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop(assert_clean=False)
            self.cleanup()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop(assert_clean=exc_type is None)
        finally:
            self.cleanup()
        return False

    def start(self):
        if not os.access(BIN, os.X_OK):
            raise HarnessError('yubin binary not found or not executable: %s '
                               '(run make at the repo root or set YUBIN_BIN)' % BIN)
        self.parent = tempfile.mkdtemp(prefix='yubin-it-')
        # As root the server (and init) hand the data dir to an unprivileged user, who must be
        # able to reach it through the parent directory.
        os.chmod(self.parent, 0o755)
        self.data = os.path.join(self.parent, 'data')
        self.log_path = os.path.join(self.parent, 'serve.log')
        self.port_offset = pick_port_offset()
        self.smtp_port = 25 + self.port_offset
        self.run('init', '--domain', self.domain, '--port-offset', str(self.port_offset),
                 *self.init_args)
        conf = os.path.join(self.data, 'yubin.conf')
        if not os.path.exists(conf):
            raise HarnessError('yubin init did not create %s' % conf)
        lines = self.config.items() if isinstance(self.config, dict) else None
        with open(conf, 'a') as f:
            f.write('\n# appended by tests/integration/harness.py\n')
            # Tests never ask a DNS server off this machine: unless a test brings its own
            # resolver (the setting below is overridden then), lookups go to a loopback port
            # where nothing answers, so mail for other domains simply waits in the queue.
            if '--resolver' not in self.init_args:
                f.write('resolver = 127.0.0.1@9\n')
            # Mail from loopback is checked (SPF, DKIM, DMARC) like any other by default; with
            # no DNS server answering, each message would wait out mailauth-timeout. Tests of
            # other features trust loopback; the mail-authentication tests set
            # trusted-networks to empty (the product's default) and bring a DNS server.
            f.write('trusted-networks = 127.0.0.0/8, ::1\n')
            if lines is not None:
                for k, v in lines:
                    f.write('%s = %s\n' % (k, v))
            else:
                for line in self.config:
                    f.write(line.rstrip('\n') + '\n')
        for addr, pw in self.accounts.items():
            self.add_account(addr, pw)
        if self.setup:
            self.setup(self)
        self.serve()

    def serve(self):
        """Start `yubin serve` on the existing data dir (also used to restart it)."""
        self.exit_code = None
        self._log_file = open(self.log_path, 'ab')
        self.proc = subprocess.Popen([BIN, 'serve', '--data', self.data], stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=self._log_file)
        self.wait_ready()

    def restart(self):
        """SIGTERM (asserting exit 0), then serve again on the same data dir."""
        self.stop()
        self.serve()

    def kill9(self):
        """SIGKILL the server (a crash), without any chance to clean up."""
        self.proc.kill()
        self.proc.wait(5)
        self.proc = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError('yubin serve exited with %s before listening; log:\n%s'
                                   % (self.proc.returncode, self.log_tail()))
            try:
                s = socket.create_connection(('127.0.0.1', self.smtp_port), timeout=1)
            except OSError:
                time.sleep(0.05)
                continue
            # Be polite: read the greeting and say QUIT, so the probe is a normal session.
            try:
                s.settimeout(3)
                s.recv(4096)
                s.sendall(b'QUIT\r\n')
                s.recv(4096)
            except OSError:
                pass
            finally:
                s.close()
            time.sleep(0.05)
            return
        raise HarnessError('SMTP port %d not accepting after %.0fs; log:\n%s'
                           % (self.smtp_port, timeout, self.log_tail()))

    def stop(self, assert_clean=True):
        """SIGTERM, wait 5 s, SIGKILL.  Asserts exit code 0 when assert_clean."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.exit_code = 'killed (no exit within 5 s of SIGTERM)'
        if self.exit_code is None:
            self.exit_code = self.proc.returncode
        proc, self.proc = self.proc, None
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        if assert_clean and self.exit_code != 0:
            raise HarnessError('yubin serve: exit code after SIGTERM was %r, expected 0; log:\n%s'
                               % (self.exit_code, self.log_tail()))
        return self.exit_code

    def cleanup(self):
        if self.parent and not os.environ.get('YUBIN_KEEP'):
            shutil.rmtree(self.parent, ignore_errors=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pop3_port(self):
        """POP3 (with STLS): 110 + port offset."""
        return 110 + self.port_offset

    @property
    def pop3s_port(self):
        """POP3 over implicit TLS: 995 + port offset."""
        return 995 + self.port_offset

    @property
    def imap_port(self):
        """IMAP (with STARTTLS): 143 + port offset."""
        return 143 + self.port_offset

    @property
    def imaps_port(self):
        """IMAP over implicit TLS: 993 + port offset."""
        return 993 + self.port_offset

    def log_text(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode(errors='replace')
        except OSError:
            return ''

    def log_tail(self, n=40):
        return '\n'.join(self.log_text().splitlines()[-n:])

    # ---- CLI helpers -----------------------------------------------------------------
    def run(self, *args, input=None, check=True, timeout=30):
        return yubin(*args, '--data', self.data, input=input, check=check, timeout=timeout)

    def add_account(self, addr, password=DEFAULT_PASSWORD):
        self.run('account', 'add', addr, input=password + '\n')

    def export_maildir(self, addr, mailbox=None):
        """All messages of ADDR (INBOX unless mailbox) as bytes, sorted by file name."""
        out = tempfile.mkdtemp(prefix='yubin-export-', dir=self.parent)
        md = os.path.join(out, 'md')
        args = ['export', addr]
        if mailbox:
            args += ['--mailbox', mailbox]
        self.run(*args, '--maildir', md)
        files = []
        for sub in ('new', 'cur'):
            d = os.path.join(md, sub)
            if os.path.isdir(d):
                files += [(name, os.path.join(d, name)) for name in os.listdir(d)]
        msgs = []
        for name, path in sorted(files):
            with open(path, 'rb') as f:
                msgs.append(f.read())
        shutil.rmtree(out, ignore_errors=True)
        return msgs

    def find(self, addr, marker):
        """Messages of ADDR containing marker (str or bytes)."""
        if isinstance(marker, str):
            marker = marker.encode()
        return [m for m in self.export_maildir(addr) if marker in m]

    def find_anywhere(self, marker):
        """{address: [messages]} over every account created through the harness."""
        res = {}
        for addr in self.accounts:
            found = self.find(addr, marker)
            if found:
                res[addr] = found
        return res

    def check(self):
        """`yubin check` must exit 0 and print `store ok: N messages in M mailboxes`; returns N."""
        cp = self.run('check', check=False)
        out = cp.stdout.decode(errors='replace')
        if cp.returncode != 0:
            raise HarnessError('yubin check exited %d:\n%s%s' % (
                cp.returncode, out, cp.stderr.decode(errors='replace')))
        m = re.search(r'store ok: (\d+) messages in (\d+) mailboxes', out)
        if not m:
            raise HarnessError('yubin check output not as documented: %r' % out)
        return int(m.group(1))


# ---- raw SMTP client -----------------------------------------------------------------------
class Reply:
    def __init__(self, code, lines):
        self.code = code          # int
        self.lines = lines        # list of str, text after 'NNN-' / 'NNN '

    @property
    def text(self):
        return '\n'.join(self.lines)

    @property
    def enhanced(self):
        m = re.match(r'([245]\.\d{1,3}\.\d{1,3})\b', self.lines[0] if self.lines else '')
        return m.group(1) if m else None

    def __repr__(self):
        return '<%d %s>' % (self.code, ' | '.join(self.lines))


class Closed(Exception):
    pass


# ---- raw line clients (SMTP here, POP3 in pop3_common.py, IMAP in imap_common.py) ------------
def connect_retry(port, timeout=IO_TIMEOUT, wait=5.0, host='127.0.0.1', source=None):
    """Connect to host:port; while refused, retry for up to `wait` seconds (the POP3 and IMAP
    listeners may open a moment after SMTP, which is what the harness waits for). wait=0:
    one try, so a refusal is seen as one."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return socket.create_connection((host, port), timeout=timeout,
                                            source_address=(source, 0) if source else None)
        except ConnectionRefusedError:
            if wait <= 0 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class RawClient:
    """The socket under RawSMTP, RawPOP3 and RawIMAP: plain (or implicit TLS with tls=True),
    no buffering but self.buf, so a test sees exactly what is sent and received. Bytes read
    past the last line taken stay in self.buf."""
    WHAT = 'line'           # what a line is called in errors ("IMAP line")
    STARTTLS = 'STARTTLS'   # the command that switches to TLS
    MAX_LINE = 100000       # bytes without CRLF before a line counts as runaway
    CONNECT_WAIT = 5.0      # seconds connect_retry may retry a refused connection

    def __init__(self, port, host='127.0.0.1', timeout=IO_TIMEOUT, tls=False, source=None):
        self.sock = connect_retry(port, timeout, self.CONNECT_WAIT, host, source)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            self.sock = client_tls_context().wrap_socket(self.sock, server_hostname=HOSTNAME)
        self.tls = tls
        self.buf = b''

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        """Reads what has arrived into self.buf; Closed when the server has closed (a reset
        or a TLS connection ended without close_notify count as closed)."""
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError) as e:
            chunk = b''
            if isinstance(e, ssl.SSLError) and 'EOF' not in str(e) and 'eof' not in str(e):
                raise
        if not chunk:
            raise Closed('connection closed by server; unparsed bytes: %r' % self.buf[:300])
        self.buf += chunk

    def rawline(self):
        """One line as bytes, without its CRLF."""
        while b'\r\n' not in self.buf:
            if len(self.buf) > self.MAX_LINE:
                raise AssertionError('%s without CRLF: %r' % (self.WHAT, self.buf[:200]))
            self._fill()
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def _start_tls(self):
        """After the server's go-ahead for STARTTLS/STLS: TLS on the same socket. Nothing may
        have come after the go-ahead in plaintext."""
        if self.buf:
            raise AssertionError('bytes after the %s reply before TLS: %r'
                                 % (self.STARTTLS, self.buf))
        self.sock = client_tls_context().wrap_socket(self.sock, server_hostname=HOSTNAME)
        self.tls = True

    def wait_closed(self, timeout=5.0):
        """True if the server closes the connection within timeout (bytes before the close are
        kept in self.buf for inspection)."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
                return True
            except socket.timeout:
                return False
            if not chunk:
                return True
            self.buf += chunk
        return False


class RawSMTP(RawClient):
    """An SMTP client over a plain socket that shows exactly what is sent and received."""
    WHAT = 'reply line'
    CONNECT_WAIT = 0        # the harness waits for SMTP; a refusal is what a test sees

    def __init__(self, port, host='127.0.0.1', timeout=IO_TIMEOUT, source=None, greet=True):
        super().__init__(port, host=host, timeout=timeout, source=source)
        self.greeting = self.reply() if greet else None

    def readline(self):
        return self.rawline()

    def reply(self):
        lines = []
        while True:
            line = self.readline().decode('utf-8', errors='replace')
            m = re.match(r'(\d{3})([ -])(.*)$', line, re.S)
            if not m:
                raise AssertionError('malformed reply line %r' % line)
            lines.append(m.group(3))
            if m.group(2) == ' ':
                return Reply(int(m.group(1)), lines)

    def cmd(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b'\r\n')
        return self.reply()

    def ehlo(self, name='client.remote.test'):
        r = self.cmd('EHLO ' + name)
        if r.code != 250:
            raise AssertionError('EHLO refused: %r' % r)
        self.extensions = [l.upper() for l in r.lines[1:]]
        return r

    def has_ext(self, name):
        name = name.upper()
        return any(e == name or e.startswith(name + ' ') for e in self.extensions)

    def starttls(self):
        r = self.cmd('STARTTLS')
        if r.code != 220:
            raise AssertionError('STARTTLS refused: %r' % r)
        self._start_tls()
        return r


def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def auth_plain_b64(user, password, authzid=''):
    """The SASL PLAIN initial response (RFC 4616) in base64."""
    return base64.b64encode(('%s\0%s\0%s' % (authzid, user, password)).encode()).decode()


def app_password_add(srv, addr, label):
    """`yubin account app-password add`: returns the one password it prints."""
    cp = srv.run('account', 'app-password', 'add', addr, '--label', label)
    out = cp.stdout.decode(errors='replace')
    m = re.findall(r'^password: (\S+)\s*$', out, re.M)
    if len(m) != 1:
        raise HarnessError('app-password add printed no single `password: ...` line: %r' % out)
    return m[0]


# ---- message checks ------------------------------------------------------------------------
TRACE_RE = re.compile(rb'Return-Path: <([^>\r\n]*)>\r\n(Received:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*)')


def split_stored(stored):
    """stored -> (return_path bytes, received header bytes (folded, with CRLFs), rest bytes).
    Raises AssertionError when the stored message does not start as the contract says."""
    m = TRACE_RE.match(stored)
    if not m:
        raise AssertionError('stored message does not start with Return-Path + one Received '
                             'header: %r' % stored[:400])
    return m.group(1), m.group(2), stored[m.end():]


def unfold(header):
    return re.sub(rb'\r\n([ \t])', rb'\1', header).rstrip(b'\r\n').decode('utf-8', 'replace')


def assert_stored(stored, sender, sent, hostname=HOSTNAME):
    """Assert stored == 'Return-Path: <sender>' + one Received header + sent, byte for byte.
    Returns the unfolded Received header."""
    if isinstance(sender, str):
        sender = sender.encode()
    rp, received, rest = split_stored(stored)
    if rp != sender:
        raise AssertionError('Return-Path is <%r>, expected <%r>' % (rp, sender))
    for line in received.split(b'\r\n'):
        if len(line) > 998:
            raise AssertionError('Received header line longer than 998 bytes')
    if rest != sent:
        raise AssertionError('stored body differs from the bytes sent.\n%s' % _diff(sent, rest))
    text = unfold(received)
    if ('by ' + hostname) not in text:
        raise AssertionError('Received header does not name "by %s": %r' % (hostname, text))
    if ';' not in text:
        raise AssertionError('Received header has no "; date": %r' % text)
    date = text.rsplit(';', 1)[1].strip()
    try:
        parsed = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None:
        raise AssertionError('Received header date not RFC 5322: %r' % date)
    return text


def _diff(expected, got):
    n = 0
    while n < min(len(expected), len(got)) and expected[n] == got[n]:
        n += 1
    return ('expected %d bytes, stored %d bytes; first difference at offset %d:\n'
            '  expected: %r\n  stored:   %r' % (len(expected), len(got), n,
                                               expected[max(0, n - 40):n + 60],
                                               got[max(0, n - 40):n + 60]))


def message(marker, subject='test', sender='sender@remote.test', to='alice@example.test',
            body=None, extra_headers=b''):
    """A CRLF message (bytes) containing marker in Subject and body."""
    if body is None:
        body = b'Hello from the integration tests.\r\nmarker ' + marker.encode() + b'\r\n'
    return (b'From: <' + sender.encode() + b'>\r\n'
            b'To: <' + to.encode() + b'>\r\n'
            b'Subject: ' + subject.encode() + b' ' + marker.encode() + b'\r\n'
            b'Message-ID: <' + marker.encode() + b'@remote.test>\r\n'
            b'Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n' + extra_headers +
            b'\r\n' + body)


def dot_stuff(msg):
    """Wire form for DATA: every line starting with '.' gets one more; msg must end in CRLF."""
    assert msg.endswith(b'\r\n')
    lines = msg.split(b'\r\n')
    return b'\r\n'.join((b'.' + l) if l.startswith(b'.') else l for l in lines)


def send_raw_data(c, sender, rcpts, msg):
    """MAIL/RCPT*/DATA + dot-stuffed msg over RawSMTP c. Returns the final reply."""
    r = c.cmd('MAIL FROM:<%s>' % sender)
    assert r.code == 250, r
    for rc in rcpts:
        r = c.cmd('RCPT TO:<%s>' % rc)
        assert r.code == 250, (rc, r)
    r = c.cmd('DATA')
    assert r.code == 354, r
    c.send(dot_stuff(msg) + b'.\r\n')
    return c.reply()


def assert_serves(testcase, srv, rcpt='alice@example.test'):
    """After abuse, a normal client must still get a full session up to RCPT."""
    testcase.assertTrue(srv.alive(), 'server process died; log:\n' + srv.log_tail())
    with RawSMTP(srv.smtp_port) as c:
        testcase.assertEqual(c.greeting.code, 220, c.greeting)
        c.ehlo()
        r = c.cmd('MAIL FROM:<probe@remote.test>')
        testcase.assertEqual(r.code, 250, r)
        r = c.cmd('RCPT TO:<%s>' % rcpt)
        testcase.assertEqual(r.code, 250, r)
        r = c.cmd('RSET')
        testcase.assertEqual(r.code, 250, r)
        r = c.cmd('QUIT')
        testcase.assertEqual(r.code, 221, r)


def needs(what, available):
    """Skip decorator for a test needing something absent; run.py reports these separately."""
    import unittest
    if available:
        return lambda f: f
    return unittest.skip('needs: ' + what)


class ServerTestCase:
    """Mixin for unittest.TestCase: one server per class (cls.SERVER_ARGS), checked at the end."""
    SERVER_ARGS = {}

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(**cls.SERVER_ARGS)
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        srv = cls.srv
        try:
            if srv.alive():
                srv.check()
        finally:
            srv.__exit__(None, None, None)


def ensure_debian_package(command, package):
    """Install a Debian package with apt-get when `command` is not on PATH (we run as root).
    Returns the path of the command, or None when it could not be installed."""
    path = shutil.which(command) or (os.path.exists('/usr/sbin/' + command) and '/usr/sbin/' + command)
    if path:
        return path
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    for args in (['apt-get', 'install', '-y', '-q', package],
                 ['apt-get', 'update', '-q'],
                 ['apt-get', 'install', '-y', '-q', package]):
        subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=600)
        path = shutil.which(command) or (os.path.exists('/usr/sbin/' + command)
                                         and '/usr/sbin/' + command)
        if path:
            return path
    return None
