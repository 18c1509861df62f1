"""A private rspamd (and ClamAV's clamd, and Redis for Bayes learning) started by a test, on
loopback addresses of its own, with its own configuration directory in a temp dir; stopped by
its PID. Debian's packages provide the programs (scripts/deps --test installs them); nothing
of the system's own rspamd, clamd or Redis is used or touched.

    rs = PrivateRspamd(clamd=True, redis=True)   # one per test class: starting costs seconds
    rs.start()
    rs.scan(GTUBE_MESSAGE)['action'] == 'reject'
    rs.url, rs.controller_url, rs.password       # for yubin's settings / build/rspamd-tool
    rs.stop()

The rspamd configuration is Debian's rules ($CONFDIR, /etc/rspamd) with a top-level file of our
own: one normal worker and one controller on 127.0.0.77:<free ports>, no proxy, logs and pid
file in the temp dir. Lookups on the internet cannot work in tests, so DNS goes to a port
where nobody answers with a 0.1 s timeout, the modules that score on the sender's host name
(hfilter) or only ask outside servers (rbl, asn, fuzzy_check) are off, and a test symbol
YUBIN_TEST_JUNK (Subject containing "yubin-test-junk", score 8) gives a message that rspamd
scores for "add header" (6 <= score < 15). With clamd=True rspamd's antivirus module asks a
private clamd whose only signature is EICAR's MD5 (written by the test: ClamAV's own
databases need the internet), so EICAR gives CLAM_VIRUS and "reject". With redis=True the
Bayes classifier stores what it learns in a private redis-server.

rspamd compiles its regular expressions with Hyperscan at start (about 40 s on a busy
machine); the compiled databases go to a cache kept between runs (/var/tmp, or ~/.cache
when not root), so later starts take 2-5 s.
"""

import base64
import email.utils
import hashlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from harness import ensure_debian_package

RSPAMD_ADDR = '127.0.0.77'
CLAMD_ADDR = '127.0.0.78'
REDIS_ADDR = '127.0.0.79'
START_TIMEOUT = 180  # a first start compiles Hyperscan databases; later ones use the cache

GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
# EICAR's test file, in two halves so this source file is not itself "infected"
EICAR = (b'X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + b'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*')
EICAR_SIGNATURE = 'Yubin-Test-EICAR'  # clamd reports it as Yubin-Test-EICAR.UNOFFICIAL
JUNK_MARKER = 'yubin-test-junk'


def free_tcp_port(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def message(subject, body, extra_headers='', mid=None):
    mid = mid or '%x.%d@sender.example' % (int(time.time() * 1000), os.getpid())
    return ('From: Sam Sender <sam@sender.example>\r\nTo: Alice <alice@example.test>\r\n'
            'Subject: %s\r\nMessage-ID: <%s>\r\nDate: %s\r\n'
            'MIME-Version: 1.0\r\n%s' % (subject, mid, email.utils.formatdate(time.time() - 60),
                                        extra_headers)).encode() + \
        b'Content-Type: text/plain; charset=us-ascii\r\n\r\n' + body.encode() + b'\r\n'


def gtube_message():
    return message('cheap offer', 'Hello,\r\n\r\n' + GTUBE)


def clean_message():
    return message('Lunch on Thursday', 'Hi Alice,\r\n\r\nShall we have lunch on Thursday at '
                   'noon? The usual place near the station.\r\n\r\nSam')


def junk_message():
    return message('Offer ' + JUNK_MARKER, 'Hi Alice,\r\n\r\nA message the test rule scores '
                   'for the Junk folder.\r\n\r\nSam')


def eicar_message():
    head = message('Invoice', '').split(b'Content-Type:')[0]
    return head + (b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
                   b'Content-Type: text/plain\r\n\r\nThe invoice is attached.\r\n--b1\r\n'
                   b'Content-Type: application/octet-stream\r\n'
                   b'Content-Disposition: attachment; filename="invoice.bin"\r\n'
                   b'Content-Transfer-Encoding: base64\r\n\r\n' + base64.b64encode(EICAR) +
                   b'\r\n--b1--\r\n')


def _stop_pid(proc, what, timeout=15):
    """Stops our own child by its PID: SIGTERM, then SIGKILL if it will not go."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError('%s did not stop within %d s of SIGTERM' % (what, timeout))


def _wait_until(check, proc, what, timeout, log=None):
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            tail = ''
            if log and os.path.exists(log):
                with open(log, errors='replace') as f:
                    tail = ''.join(f.readlines()[-30:])
            raise AssertionError('%s exited with %s during start\n%s' % (what, proc.returncode,
                                                                          tail))
        if check():
            return
        if time.time() > deadline:
            raise AssertionError('%s did not come up within %d s' % (what, timeout))
        time.sleep(0.1)


class PrivateClamd:
    """clamd on CLAMD_ADDR:<free port> with one signature: EICAR's MD5 (an .hdb file)."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, 'clamd')
        self.proc = None
        self.port = None

    def start(self):
        exe = ensure_debian_package('clamd', 'clamav-daemon')
        if not exe:
            raise AssertionError('clamd is missing (apt-get install clamav-daemon)')
        db = os.path.join(self.dir, 'db')
        os.makedirs(db)
        with open(os.path.join(db, 'yubin-test.hdb'), 'w') as f:
            f.write('%s:%d:%s\n' % (hashlib.md5(EICAR).hexdigest(), len(EICAR), EICAR_SIGNATURE))
        self.port = free_tcp_port(CLAMD_ADDR)
        self.log = os.path.join(self.dir, 'clamd.log')
        conf = os.path.join(self.dir, 'clamd.conf')
        with open(conf, 'w') as f:
            f.write('Foreground yes\nTCPSocket %d\nTCPAddr %s\nDatabaseDirectory %s\n'
                    'PidFile %s\nLogFile %s\nLogTime yes\n' % (
                        self.port, CLAMD_ADDR, db, os.path.join(self.dir, 'clamd.pid'),
                        self.log))
        self.proc = subprocess.Popen([exe, '-c', conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_until(self.ping, self.proc, 'clamd', 60, self.log)

    def ping(self):
        try:
            with socket.create_connection((CLAMD_ADDR, self.port), timeout=2) as s:
                s.sendall(b'zPING\0')
                return s.recv(100).startswith(b'PONG')
        except OSError:
            return False

    def stop(self):
        _stop_pid(self.proc, 'clamd')


class PrivateRedis:
    """redis-server on REDIS_ADDR:<free port>, nothing saved to disk."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, 'redis')
        self.proc = None
        self.port = None

    def start(self):
        exe = ensure_debian_package('redis-server', 'redis-server')
        if not exe:
            raise AssertionError('redis-server is missing (apt-get install redis-server)')
        os.makedirs(self.dir)
        self.port = free_tcp_port(REDIS_ADDR)
        self.log = os.path.join(self.dir, 'redis.log')
        self.proc = subprocess.Popen(
            [exe, '--bind', REDIS_ADDR, '--port', str(self.port), '--save', '',
             '--appendonly', 'no', '--dir', self.dir, '--daemonize', 'no',
             '--logfile', self.log, '--protected-mode', 'no'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_until(self.ping, self.proc, 'redis-server', 30, self.log)

    def ping(self):
        try:
            with socket.create_connection((REDIS_ADDR, self.port), timeout=2) as s:
                s.sendall(b'PING\r\n')
                return s.recv(100).startswith(b'+PONG')
        except OSError:
            return False

    def command(self, *args):
        """One Redis command; returns a bulk reply as str (None for nil) or an integer."""
        req = b'*%d\r\n' % len(args) + b''.join(
            b'$%d\r\n%s\r\n' % (len(a.encode()), a.encode()) for a in args)
        with socket.create_connection((REDIS_ADDR, self.port), timeout=10) as s:
            s.sendall(req)
            f = s.makefile('rb')
            line = f.readline().rstrip(b'\r\n')
            if line[:1] == b':':
                return int(line[1:])
            if line[:1] == b'$':
                n = int(line[1:])
                return None if n < 0 else f.read(n + 2)[:n].decode()
            if line[:1] == b'+':
                return line[1:].decode()
            raise AssertionError('redis: %r' % line)

    def stop(self):
        _stop_pid(self.proc, 'redis-server')


def _cache_dir(owner):
    if os.getuid() == 0:
        d = '/var/tmp/yubin-rspamd-cache'
    else:
        d = os.path.join(os.path.expanduser('~'), '.cache', 'yubin-rspamd')
    os.makedirs(d, exist_ok=True)
    if owner:
        os.chown(d, owner.pw_uid, owner.pw_gid)
    return d


class PrivateRspamd:
    def __init__(self, clamd=False, redis=False, password='yubin-test-controller',
                 per_user=False):
        self.want_clamd = clamd
        self.want_redis = redis
        self.per_user = per_user  # Bayes per recipient (Deliver-To of a learn), with redis
        self.password = password
        self.proc = None
        self.clamd = None
        self.redis = None
        self.tmp = None

    def start(self):
        exe = ensure_debian_package('rspamd', 'rspamd')
        if not exe:
            raise AssertionError('rspamd is missing (apt-get install rspamd)')
        self.tmp = tempfile.mkdtemp(prefix='yubin-rspamd-')
        try:
            self._start(exe)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, exe):
        if self.want_clamd:
            self.clamd = PrivateClamd(self.tmp)
            self.clamd.start()
        if self.want_redis:
            self.redis = PrivateRedis(self.tmp)
            self.redis.start()
        # rspamd refuses to run as root: it drops to Debian's _rspamd user, which then must
        # own its directories. As another user it runs as that user.
        owner = None
        if os.getuid() == 0:
            owner = pwd.getpwnam('_rspamd')
        conf = os.path.join(self.tmp, 'conf')
        local = os.path.join(conf, 'local.d')
        for d in (local, os.path.join(self.tmp, 'db'), os.path.join(self.tmp, 'run'),
                  os.path.join(self.tmp, 'log')):
            os.makedirs(d)
        self.port = free_tcp_port(RSPAMD_ADDR)
        self.controller_port = free_tcp_port(RSPAMD_ADDR)
        self.url = 'http://%s:%d' % (RSPAMD_ADDR, self.port)
        self.controller_url = 'http://%s:%d' % (RSPAMD_ADDR, self.controller_port)
        self.log = os.path.join(self.tmp, 'log', 'rspamd.log')
        files = {
            'rspamd.conf': TOP_CONF % {
                'addr': RSPAMD_ADDR, 'port': self.port, 'cport': self.controller_port,
                'password': self.password},
            'local.d/options.inc': 'dns { nameserver = ["127.0.0.1:9"]; timeout = 0.1s; '
                                   'retransmits = 1; }\nhs_cache_dir = "%s";\n'
                                   % _cache_dir(owner),
            'local.d/hfilter.conf': 'enabled = false;\n',
            'local.d/rbl.conf': 'enabled = false;\n',
            'local.d/asn.conf': 'enabled = false;\n',
            'local.d/fuzzy_check.conf': 'enabled = false;\n',
            'local.d/regexp.conf': 'YUBIN_TEST_JUNK {\n  re = "Subject=/%s/i{header}";\n'
                                   '  score = 8.0;\n  description = "yubin test: junk";\n}\n'
                                   % JUNK_MARKER,
        }
        if self.clamd:
            files['local.d/antivirus.conf'] = (
                'clamav {\n  type = "clamav";\n  servers = "%s:%d";\n  symbol = "CLAM_VIRUS";\n'
                '  action = "reject";\n  scan_mime_parts = true;\n  log_clean = true;\n'
                '  timeout = 5.0;\n  retransmits = 1;\n}\n' % (CLAMD_ADDR, self.clamd.port))
        if self.redis:
            files['local.d/classifier-bayes.conf'] = (
                'servers = "%s:%d";\nbackend = "redis";\n%s' % (
                    REDIS_ADDR, self.redis.port, 'per_user = true;\n' if self.per_user else ''))
        for name, text in files.items():
            with open(os.path.join(conf, name), 'w') as f:
                f.write(text)
        if owner:
            for root, dirs, names in os.walk(self.tmp):
                for n in dirs + names:
                    os.chown(os.path.join(root, n), owner.pw_uid, owner.pw_gid)
            os.chown(self.tmp, owner.pw_uid, owner.pw_gid)
        args = [exe, '-f', '-c', os.path.join(conf, 'rspamd.conf'),
                '--var', 'LOCAL_CONFDIR=' + conf,
                '--var', 'DBDIR=' + os.path.join(self.tmp, 'db'),
                '--var', 'RUNDIR=' + os.path.join(self.tmp, 'run'),
                '--var', 'LOGDIR=' + os.path.join(self.tmp, 'log')]
        if owner:
            args += ['-u', owner.pw_name, '-g', owner.pw_name]
        t0 = time.time()
        self.out = open(os.path.join(self.tmp, 'rspamd.out'), 'w')
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        _wait_until(lambda: self._ping(self.port) and self._ping(self.controller_port),
                    self.proc, 'rspamd', START_TIMEOUT, self.log)
        self.start_seconds = time.time() - t0

    def _ping(self, port):
        try:
            with urllib.request.urlopen('http://%s:%d/ping' % (RSPAMD_ADDR, port),
                                        timeout=2) as r:
                return r.read().strip() == b'pong'
        except (OSError, urllib.error.URLError):
            return False

    def scan(self, msg, ip='192.0.2.10', helo='mx.sender.example', mail_from='sam@sender.example',
             rcpts=('alice@example.test',), hostname='mx.sender.example'):
        """rspamd's own answer to POST /checkv2, as a dict (straight through HTTP)."""
        req = urllib.request.Request(self.url + '/checkv2', data=msg, method='POST')
        for k, v in (('IP', ip), ('Helo', helo), ('From', mail_from),
                     ('Hostname', hostname)):
            req.add_header(k, v)
        # urllib keeps one value per header name; rspamd takes one Rcpt header per recipient
        for r in rcpts[:1]:
            req.add_header('Rcpt', r)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def stat(self):
        """The controller's /stat (with the password): Bayes counts under 'statfiles'."""
        req = urllib.request.Request(self.controller_url + '/stat')
        req.add_header('Password', self.password)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def learned(self, kind, user=''):
        """Messages the Bayes classifier has learned as 'spam' or 'ham', read from its Redis
        (the controller's /stat and `rspamc stat` refresh these counts only now and then).
        With per_user, each user's counts are under a key of their own ('RS' + address)."""
        n = self.redis.command('HGET', 'RS' + user, 'learns_' + kind)
        return int(n or 0)

    def stop_rspamd(self):
        """Stops rspamd alone (clamd and Redis go on), e.g. to test a scanner that is down."""
        if self.proc is not None:
            proc, self.proc = self.proc, None
            _stop_pid(proc, 'rspamd', 30)
            self.out.close()

    def stop(self):
        try:
            self.stop_rspamd()
        finally:
            try:
                if self.clamd:
                    self.clamd.stop()
            finally:
                if self.redis:
                    self.redis.stop()
                if self.tmp and not os.environ.get('YUBIN_KEEP'):
                    shutil.rmtree(self.tmp, ignore_errors=True)
                self.tmp = None


# Debian's rules and modules, our own workers. The controller asks for the password from every
# address (secure_ip names none of ours), so a wrong password is tested for real.
TOP_CONF = '''
.include "$CONFDIR/common.conf"
options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    level = "info";
}
worker "normal" {
    bind_socket = "%(addr)s:%(port)d";
    mime = true;
    count = 2;
}
worker "controller" {
    bind_socket = "%(addr)s:%(cport)d";
    count = 1;
    password = "%(password)s";
    secure_ip = "192.0.2.255";
}
'''


class RspamdServerCase:
    """Mixin for unittest.TestCase (put it first): one private rspamd (RSPAMD: PrivateRspamd's
    arguments) and one yubin server using it per class, the controller URL and password given
    too; CONFIG adds settings, ACCOUNTS the accounts to create, SETUP (a function of the
    server) runs before it starts. Both are stopped at the end."""
    RSPAMD = {}
    CONFIG = {}
    ACCOUNTS = ()
    SETUP = None

    @classmethod
    def setUpClass(cls):
        from harness import Server
        cls.rs = PrivateRspamd(**cls.RSPAMD).start()
        config = {'rspamd-url': cls.rs.url, 'rspamd-controller-url': cls.rs.controller_url,
                  'rspamd-password': cls.rs.password}
        config.update(cls.CONFIG)
        try:
            cls.srv = Server(config=config, accounts=list(cls.ACCOUNTS), setup=cls.SETUP)
            cls.srv.__enter__()
        except BaseException:
            cls.rs.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.__exit__(None, None, None)
        finally:
            cls.rs.stop()
