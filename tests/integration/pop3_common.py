"""Helpers for the POP3 integration tests (test_pop3_*.py): a raw POP3 client that shows
exactly what is sent and received, poplib sessions, app passwords, delivery over SMTP.

Everything speaks to 127.0.0.1 only and every socket has a timeout."""

import base64
import poplib
import re
import smtplib
import socket
import ssl
import time

from harness import (HOSTNAME, IO_TIMEOUT, Closed, HarnessError,  # noqa
                     client_tls_context, message, token)

SENDER = 'sender@remote.test'
# docs/pop3.md: `+OK yubin POP3 ready`; the server puts its host name first, as in SMTP.
GREETING_RE = r'^\+OK (mail\.example\.test )?yubin POP3 ready\.?$'


# ---- raw POP3 client -----------------------------------------------------------------------
class RawPOP3:
    """POP3 over a plain socket (or implicit TLS with tls=True). Replies are str lines."""

    def __init__(self, port, tls=False, timeout=IO_TIMEOUT, greet=True):
        self.sock = connect_retry(port, timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            self.sock = client_tls_context().wrap_socket(self.sock, server_hostname=HOSTNAME)
        self.tls = tls
        self.buf = b''
        self.greeting = self.line() if greet else None

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
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b''
        if not chunk:
            raise Closed('connection closed by server; unparsed bytes: %r' % self.buf)
        self.buf += chunk

    def rawline(self):
        """One line as bytes, without its CRLF."""
        while b'\r\n' not in self.buf:
            if len(self.buf) > 100000:
                raise AssertionError('POP3 line without CRLF: %r' % self.buf[:200])
            self._fill()
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def line(self):
        return self.rawline().decode('utf-8', errors='replace')

    def cmd(self, line):
        """Send one command line, return the status line (str)."""
        self.send((line.encode() if isinstance(line, str) else line) + b'\r\n')
        return self.line()

    def multiline_raw(self):
        """The lines of a multi-line response up to the terminating '.', as sent on the wire
        (still dot-stuffed), as a list of bytes."""
        lines = []
        while True:
            l = self.rawline()
            if l == b'.':
                return lines
            lines.append(l)

    def multi(self, line):
        """Command with a multi-line answer: (status line, [unstuffed lines as bytes]).
        When the status is -ERR no body is read."""
        st = self.cmd(line)
        if not st.startswith('+OK'):
            return st, None
        return st, [l[1:] if l.startswith(b'.') else l for l in self.multiline_raw()]

    def login(self, user, password):
        r = self.cmd('USER ' + user)
        if not r.startswith('+OK'):
            raise AssertionError('USER %s answered %r' % (user, r))
        r = self.cmd('PASS ' + password)
        if not r.startswith('+OK'):
            raise AssertionError('PASS for %s answered %r' % (user, r))
        return r

    def capa(self):
        st, lines = self.multi('CAPA')
        if not st.startswith('+OK'):
            raise AssertionError('CAPA answered %r' % st)
        return [l.decode('utf-8', 'replace') for l in lines]

    def stls(self):
        r = self.cmd('STLS')
        if not r.startswith('+OK'):
            raise AssertionError('STLS answered %r' % r)
        if self.buf:
            raise AssertionError('bytes after the STLS reply before TLS: %r' % self.buf)
        self.sock = client_tls_context().wrap_socket(self.sock, server_hostname=HOSTNAME)
        self.tls = True
        return r

    def wait_closed(self, timeout=5.0):
        """True if the server closes the connection within timeout."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                return True
            except socket.timeout:
                return False
            if not chunk:
                return True
            self.buf += chunk
        return False


def connect_retry(port, timeout=IO_TIMEOUT, wait=5.0):
    """Connect to 127.0.0.1:port; retry briefly (the POP3 listener may open a moment after
    SMTP, which is what the harness waits for)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return socket.create_connection(('127.0.0.1', port), timeout=timeout)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def auth_plain_b64(user, password, authzid=''):
    return base64.b64encode(('%s\0%s\0%s' % (authzid, user, password)).encode()).decode()


# ---- assertions on replies ------------------------------------------------------------------
def assert_ok(resp):
    if isinstance(resp, bytes):
        resp = resp.decode('utf-8', 'replace')
    if not resp.startswith('+OK'):
        raise AssertionError('expected +OK, got %r' % resp)
    return resp


def assert_err(resp, code=None):
    """resp must be '-ERR [CODE] sentence' (code given) or '-ERR sentence'; the sentence must be
    a few words of text. Returns the sentence."""
    if isinstance(resp, bytes):
        resp = resp.decode('utf-8', 'replace')
    if not resp.startswith('-ERR'):
        raise AssertionError('expected -ERR%s, got %r' % (' [%s]' % code if code else '', resp))
    rest = resp[4:]
    if code is not None:
        if not rest.startswith(' [%s]' % code):
            raise AssertionError('expected -ERR [%s] ..., got %r' % (code, resp))
        rest = rest[len(' [%s]' % code):]
    else:
        rest = re.sub(r'^ \[[A-Z/-]+\]', '', rest)
    sentence = rest.strip()
    if len(sentence) < 8 or len(sentence.split()) < 2:
        raise AssertionError('-ERR without a clear sentence: %r' % resp)
    return sentence


# ---- poplib sessions -------------------------------------------------------------------------
def pop(srv, user, password, mode='plain'):
    """A logged-in poplib session. mode: 'plain' (USER/PASS on 110+offset, no TLS),
    'stls' (STLS first), 'ssl' (POP3_SSL on 995+offset)."""
    if mode == 'ssl':
        connect_retry(srv.pop3s_port).close()
        p = poplib.POP3_SSL('127.0.0.1', srv.pop3s_port, timeout=IO_TIMEOUT,
                            context=client_tls_context())
    else:
        connect_retry(srv.pop3_port).close()
        p = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=IO_TIMEOUT)
        if mode == 'stls':
            p.stls(context=client_tls_context())
    try:
        p.user(user)
        p.pass_(password)
    except BaseException:
        try:
            p.close()
        except OSError:
            pass
        raise
    return p


def retr_bytes(p, n):
    """RETR n with poplib -> the message as bytes (CRLF line ends, un-dot-stuffed), and the
    octet count poplib saw."""
    resp, lines, octets = p.retr(n)
    assert_ok(resp)
    return b''.join(l + b'\r\n' for l in lines), octets


def list_sizes(p):
    """LIST -> {number: size}"""
    resp, lines, _ = p.list()
    assert_ok(resp)
    out = {}
    for l in lines:
        n, size = l.split()
        out[int(n)] = int(size)
    return out


def uidl_map(p):
    """UIDL -> {number: uid str}"""
    resp, lines, _ = p.uidl()
    assert_ok(resp)
    out = {}
    for l in lines:
        n, uid = l.decode().split(' ', 1)
        out[int(n)] = uid
    return out


def quit_(p):
    resp = p.quit()
    assert_ok(resp)
    return resp


# ---- server-side helpers ---------------------------------------------------------------------
def deliver(srv, rcpt, body=None, marker=None, subject='pop3 test'):
    """Send one message over SMTP with smtplib; returns (marker, exact bytes sent)."""
    marker = marker or token()
    if body is not None and b'marker ' + marker.encode() not in body:
        body += b'marker ' + marker.encode() + b'\r\n'     # stored_by_marker finds it
    msg = message(marker, subject=subject, to=rcpt, body=body)
    with smtplib.SMTP('127.0.0.1', srv.smtp_port, timeout=IO_TIMEOUT) as s:
        refused = s.sendmail(SENDER, [rcpt], msg)
    if refused:
        raise HarnessError('SMTP refused %r' % refused)
    return marker, msg


def stored_by_marker(srv, addr):
    """{marker: stored bytes} of every message in ADDR's INBOX found by its token marker."""
    out = {}
    for m in srv.export_maildir(addr):
        found = re.search(rb'marker (T[0-9a-f]{16})', m)
        if found:
            out[found.group(1).decode()] = m
    return out


def app_password_add(srv, addr, label):
    cp = srv.run('account', 'app-password', 'add', addr, '--label', label)
    out = cp.stdout.decode(errors='replace')
    m = re.findall(r'^password: (\S+)\s*$', out, re.M)
    if len(m) != 1:
        raise HarnessError('app-password add printed no single `password: ...` line: %r' % out)
    return m[0]


def account_show(srv, addr):
    return srv.run('account', 'show', addr).stdout.decode(errors='replace')


def deleted_but_kept(srv, addr):
    """(messages, bytes) from `deleted but kept: N messages, B bytes` in account show."""
    out = account_show(srv, addr)
    m = re.search(r'^deleted but kept: (\d+) messages?, (\d+) bytes?\b', out, re.M)
    if not m:
        raise AssertionError('account show has no `deleted but kept: N messages, B bytes` '
                             'line:\n%s' % out)
    return int(m.group(1)), int(m.group(2))
