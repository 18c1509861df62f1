"""Helpers for the IMAP integration tests (test_imap_*.py): a raw IMAP client that shows exactly
what is sent and received (tagged status, response code, untagged lines, literals), imaplib
sessions on 143+offset (plain or STARTTLS) and 993+offset (implicit TLS), delivery over SMTP.

Everything speaks to 127.0.0.1 only and every socket has a timeout."""

import imaplib
import re
import smtplib
import socket
import threading
import time

from harness import (DEFAULT_PASSWORD, HOSTNAME, IO_TIMEOUT, Closed, HarnessError,  # noqa
                     RawClient, app_password_add, auth_plain_b64, client_tls_context,
                     connect_retry, message, token)

SENDER = 'sender@remote.test'
MARKER_RE = re.compile(rb'marker (T[0-9a-f]{16})')
# A message's response code and text: "OK [CODE args] text".
CODE_RE = re.compile(r'^\[([^\]]*)\]\s*(.*)$', re.S)


# ---- raw IMAP client ------------------------------------------------------------------------
class Resp:
    """One server response: `raw` bytes as sent (literal data inline, final CRLF removed),
    `literals` (their payloads in order), `line` (str: the response with each literal's data
    replaced by nothing, i.e. '{n}' stays and its bytes are dropped)."""

    def __init__(self, raw, literals, line):
        self.raw = raw
        self.literals = literals
        self.line = line

    def __repr__(self):
        return '<%s>' % self.line[:300]


class Result:
    """The outcome of one command: untagged responses, the tagged one, its status, code, text."""

    def __init__(self, untagged, tagged, tag):
        self.untagged = untagged
        self.tagged = tagged
        self.tag = tag
        rest = tagged.line[len(tag) + 1:] if tagged else ''
        self.status, _, text = rest.partition(' ')
        m = CODE_RE.match(text)
        self.code = m.group(1) if m else None
        self.text = m.group(2) if m else text

    @property
    def code_name(self):
        return self.code.split(' ', 1)[0].upper() if self.code else None

    def lines(self, prefix=None):
        """Untagged lines (str, without '* '), optionally only those starting with prefix
        (case-insensitive, e.g. 'LIST' or '1 FETCH')."""
        out = []
        for r in self.untagged:
            l = r.line[2:] if r.line.startswith('* ') else r.line
            if prefix is None or l.upper().startswith(prefix.upper()):
                out.append(l)
        return out

    def __repr__(self):
        return '<%s %s%s %s | %d untagged: %r>' % (
            self.tag, self.status, ' [%s]' % self.code if self.code else '', self.text,
            len(self.untagged), [u.line[:160] for u in self.untagged[:12]])


class RawIMAP(RawClient):
    """IMAP over a plain socket (or implicit TLS with tls=True)."""
    WHAT = 'IMAP line'
    MAX_LINE = 1 << 24      # an untagged SEARCH or FETCH runs long on a big mailbox

    def __init__(self, port, tls=False, timeout=IO_TIMEOUT, greet=True):
        super().__init__(port, timeout=timeout, tls=tls)
        self.n = 0
        self.greeting = self.response() if greet else None

    def next_tag(self):
        self.n += 1
        return 'a%03d' % self.n

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self):
        """One complete response (with any literals it carries)."""
        raw = b''
        shown = b''
        literals = []
        while True:
            line = self.rawline()
            raw += line
            shown += line
            m = re.search(rb'~?\{(\d+)\}$', line)
            if not m:
                return Resp(raw, literals, shown.decode('utf-8', 'replace'))
            data = self._exact(int(m.group(1)))
            literals.append(data)
            raw += b'\r\n' + data

    def until_tagged(self, tag):
        untagged = []
        while True:
            r = self.response()
            if r.line.startswith(tag + ' '):
                return Result(untagged, r, tag)
            untagged.append(r)

    def command(self, *parts, tag=None):
        """Send 'TAG parts[0]' with literals: parts = text, literal, text, literal, ..., text.
        A text before a literal must end with {n} (synchronizing: waits for '+') or {n+}.
        Returns a Result; if the server refuses a literal with a tagged reply, that is it."""
        tag = tag or self.next_tag()
        untagged = []
        parts = [p.encode() if isinstance(p, str) else p for p in parts]
        for i in range(0, len(parts), 2):
            text = (tag.encode() + b' ' if i == 0 else b'') + parts[i]
            if i + 1 >= len(parts):
                self.send(text + b'\r\n')
                break
            self.send(text + b'\r\n')
            if not text.endswith(b'+}'):
                while True:
                    r = self.response()
                    if r.line.startswith('+'):
                        break
                    if r.line.startswith(tag + ' '):
                        return Result(untagged, r, tag)
                    untagged.append(r)
            self.send(parts[i + 1])
        res = self.until_tagged(tag)
        res.untagged = untagged + res.untagged
        return res

    def cmd(self, line):
        return self.command(line)

    def login(self, user, password=DEFAULT_PASSWORD):
        r = self.cmd('LOGIN %s %s' % (quote(user), quote(password)))
        if r.status != 'OK':
            raise AssertionError('LOGIN %s answered %r' % (user, r))
        return r

    def starttls(self):
        r = self.cmd('STARTTLS')
        if r.status != 'OK':
            raise AssertionError('STARTTLS answered %r' % r)
        self._start_tls()
        return r

    def read_until(self, pred, timeout):
        """Read responses until pred(resp) is true; returns (resp, seconds waited, all read).
        Raises AssertionError on timeout."""
        seen = []
        t0 = time.monotonic()
        deadline = t0 + timeout
        old = self.sock.gettimeout()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError('nothing matching within %.1fs; got %r' % (timeout, seen))
                self.sock.settimeout(left)
                try:
                    r = self.response()
                except socket.timeout:
                    raise AssertionError('nothing matching within %.1fs; got %r'
                                         % (timeout, seen))
                seen.append(r)
                if pred(r):
                    return r, time.monotonic() - t0, seen
        finally:
            self.sock.settimeout(old)


def quote(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def assert_status(tc, res, status, code=None, msg=''):
    """res.status must be status ('OK'/'NO'/'BAD'); code (e.g. 'TRYCREATE') the first word of
    the response code when given. The text after the code must be a readable sentence."""
    tc.assertEqual(res.status, status, '%s%r' % (msg + ': ' if msg else '', res))
    if code is not None:
        tc.assertEqual(res.code_name, code.upper(), '%s%r' % (msg + ': ' if msg else '', res))
    if status != 'OK':
        tc.assertGreaterEqual(len(res.text.split()), 2,
                              'NO/BAD without a readable sentence: %r' % res)


def logged_in(srv, user, password=DEFAULT_PASSWORD, tls=False, starttls=False):
    c = RawIMAP(srv.imaps_port if tls else srv.imap_port, tls=tls)
    try:
        if starttls:
            c.starttls()
        c.login(user, password)
    except BaseException:
        c.close()
        raise
    return c


# ---- imaplib sessions ------------------------------------------------------------------------
def imap(srv, user, password=DEFAULT_PASSWORD, mode='plain'):
    """A logged-in imaplib session. mode: 'plain' (143+offset, no TLS), 'starttls', 'ssl'
    (993+offset)."""
    if mode == 'ssl':
        connect_retry(srv.imaps_port).close()
        m = imaplib.IMAP4_SSL('127.0.0.1', srv.imaps_port, ssl_context=client_tls_context(),
                              timeout=IO_TIMEOUT)
    else:
        connect_retry(srv.imap_port).close()
        m = imaplib.IMAP4('127.0.0.1', srv.imap_port, timeout=IO_TIMEOUT)
        if mode == 'starttls':
            m.starttls(ssl_context=client_tls_context())
    try:
        typ, data = m.login(user, password)
        if typ != 'OK':
            raise AssertionError('LOGIN %s answered %s %r' % (user, typ, data))
    except BaseException:
        try:
            m.shutdown()
        except OSError:
            pass
        raise
    return m


def ok(tc, typ_data, what=''):
    typ, data = typ_data
    tc.assertEqual(typ, 'OK', '%s answered %s %r' % (what, typ, data))
    return data


def fetch_items(data):
    """imaplib fetch() data -> list of (header bytes, literal or None), skipping b')'."""
    out = []
    for d in data:
        if isinstance(d, tuple):
            out.append(d)
        elif d not in (b')', None):
            out.append((d, None))
    return out


# ---- delivery -------------------------------------------------------------------------------
def deliver(srv, rcpt, body=None, marker=None, subject='imap test', extra_headers=b'',
            msg=None):
    """Send one message over SMTP with smtplib; returns (marker, exact bytes sent)."""
    marker = marker or token()
    if msg is None:
        if body is not None and b'marker ' + marker.encode() not in body:
            body += b'marker ' + marker.encode() + b'\r\n'
        msg = message(marker, subject=subject, to=rcpt, body=body, extra_headers=extra_headers)
    with smtplib.SMTP('127.0.0.1', srv.smtp_port, timeout=IO_TIMEOUT) as s:
        refused = s.sendmail(SENDER, [rcpt], msg)
    if refused:
        raise HarnessError('SMTP refused %r' % refused)
    return marker, msg


def deliver_many(srv, rcpt, n, connections=8, make=None):
    """Deliver n messages over `connections` parallel SMTP sessions (fast: the server commits
    them in groups). make(i) -> (marker, bytes); default: harness.message with a token.
    Returns {marker: bytes sent}."""
    msgs = []
    for i in range(n):
        if make:
            msgs.append(make(i))
        else:
            t = token()
            msgs.append((t, message(t, subject='bulk %d' % i, to=rcpt)))
    errors = []

    def worker(chunk):
        try:
            with smtplib.SMTP('127.0.0.1', srv.smtp_port, timeout=IO_TIMEOUT * 3) as s:
                for _, m in chunk:
                    refused = s.sendmail(SENDER, [rcpt], m)
                    if refused:
                        errors.append(refused)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(msgs[k::connections],))
               for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise HarnessError('bulk delivery failed: %r' % errors[:3])
    return dict(msgs)


def stored_by_marker(srv, addr, mailbox=None):
    """{marker: stored bytes} of the messages of ADDR (INBOX unless mailbox) with a marker."""
    out = {}
    for m in srv.export_maildir(addr, mailbox):
        found = MARKER_RE.search(m)
        if found:
            out[found.group(1).decode()] = m
    return out


# ---- parsing responses ----------------------------------------------------------------------
def parse_sexp(data, pos=0):
    """Parse one IMAP value from bytes at pos: list -> Python list, quoted string or literal ->
    bytes, NIL -> None, atom or number -> str (BODY[...] items keep their brackets).
    Returns (value, new pos)."""
    n = len(data)
    while pos < n and data[pos:pos + 1] == b' ':
        pos += 1
    if pos >= n:
        raise ValueError('unexpected end of response')
    ch = data[pos:pos + 1]
    if ch == b'(':
        out = []
        pos += 1
        while True:
            while pos < n and data[pos:pos + 1] == b' ':
                pos += 1
            if data[pos:pos + 1] == b')':
                return out, pos + 1
            v, pos = parse_sexp(data, pos)
            out.append(v)
    if ch == b'"':
        pos += 1
        buf = bytearray()
        while data[pos:pos + 1] != b'"':
            if data[pos:pos + 1] == b'\\':
                pos += 1
            buf += data[pos:pos + 1]
            pos += 1
            if pos >= n:
                raise ValueError('unterminated quoted string')
        return bytes(buf), pos + 1
    m = re.compile(rb'~?\{(\d+)\}\r\n').match(data, pos)
    if m:
        size = int(m.group(1))
        start = m.end()
        return data[start:start + size], start + size
    start = pos
    depth = 0
    while pos < n:
        c = data[pos:pos + 1]
        if c == b'[':
            depth += 1
        elif c == b']':
            depth -= 1
        elif depth == 0 and c in (b' ', b'(', b')'):
            break
        pos += 1
    atom = data[start:pos].decode('utf-8', 'replace')
    return (None if atom.upper() == 'NIL' else atom), pos


def fetch_data(resp):
    """'* N FETCH (K V ...)' Resp -> (N, {K upper: V})."""
    m = re.match(rb'\* (\d+) FETCH ', resp.raw)
    if not m:
        raise AssertionError('not a FETCH response: %r' % resp.line)
    items, end = parse_sexp(resp.raw, m.end())
    if end != len(resp.raw):
        raise AssertionError('bytes after the FETCH list: %r' % resp.raw[end:end + 100])
    if len(items) % 2:
        raise AssertionError('odd number of FETCH items: %r' % resp.line)
    return int(m.group(1)), {items[i].upper(): items[i + 1] for i in range(0, len(items), 2)}


def fetches(res):
    """Result -> {seq: {item: value}} for every untagged FETCH (later ones update earlier)."""
    out = {}
    for u in res.untagged:
        if re.match(rb'\* \d+ FETCH ', u.raw):
            n, d = fetch_data(u)
            out.setdefault(n, {}).update(d)
    return out
