"""Helpers for the POP3 integration tests (test_pop3_*.py): a raw POP3 client that shows
exactly what is sent and received, poplib sessions, app passwords, delivery over SMTP.

Everything speaks to 127.0.0.1 only and every socket has a timeout."""

import poplib
import re
import smtplib

from harness import (HOSTNAME, IO_TIMEOUT, Closed, HarnessError, RawClient,  # noqa
                     app_password_add, auth_plain_b64, client_tls_context, connect_retry,
                     message, token)

SENDER = 'sender@remote.test'
# docs/pop3.md: `+OK yubin POP3 ready`; the server puts its host name first, as in SMTP.
GREETING_RE = r'^\+OK (mail\.example\.test )?yubin POP3 ready\.?$'


# ---- raw POP3 client -----------------------------------------------------------------------
class RawPOP3(RawClient):
    """POP3 over a plain socket (or implicit TLS with tls=True). Replies are str lines."""
    WHAT = 'POP3 line'
    STARTTLS = 'STLS'

    def __init__(self, port, tls=False, timeout=IO_TIMEOUT, greet=True):
        super().__init__(port, timeout=timeout, tls=tls)
        self.greeting = self.line() if greet else None

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
        self._start_tls()
        return r


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
