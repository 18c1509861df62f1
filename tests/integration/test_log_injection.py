"""Log lines cannot be forged: every value a client sends (SMTP HELO/EHLO, MAIL FROM, RCPT TO,
AUTH PLAIN user names; IMAP LOGIN and AUTHENTICATE user names, ID values, mailbox names; POP3
USER) is sent with control characters (CR, LF, NUL where the protocol carries it, ESC),
quotes, backslashes and a made-up "event=login result=ok" payload. Afterwards every line of
the server's log must parse as `timestamp level=... key=value ...` with each key once and no
raw control byte, no line may carry the forged account as a value of its own, and `yubin
audit` prints one well-formed line per login event of the log."""

import base64
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEFAULT_PASSWORD, RawSMTP, ServerTestCase  # noqa: E402
from imap_common import RawIMAP, quote  # noqa: E402
from pop3_common import RawPOP3  # noqa: E402
from harness import Closed  # noqa: E402

DOMAIN = 'example.test'
ALICE = 'alice@' + DOMAIN
FORGED = 'forged@' + DOMAIN
# What an attacker wants a log reader to believe: a successful login of someone else.
PAYLOAD = ' event=login protocol=imap ip=10.0.0.1 account=%s device="x" tls=yes result=ok' % FORGED
# Every value is sent in each of these forms (few, as each failed login costs a pause).
NASTY = ['\r\n' + PAYLOAD.lstrip(), '\x1b[2J"\\\n' + PAYLOAD.lstrip(),
         'a\x00b\xff\xfe\r' + PAYLOAD]

STAMP = r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z'
VALUE = r'(?:"(?:[^"\\]|\\.)*"|[^\s"]*)'
PAIR_RE = re.compile(r'([a-z0-9_-]+)=(%s)(?= |$)' % VALUE)


def parse_line(line, stamp=STAMP):
    """{key: value} of one log line (in order), or None when it is not `STAMP key=value ...`
    with each key once."""
    m = re.match(stamp + ' ', line)
    if not m:
        return None
    return parse_pairs(line[m.end():])


def parse_pairs(rest):
    pos, keys = 0, {}
    while pos < len(rest):
        p = PAIR_RE.match(rest, pos)
        if not p or p.group(1) in keys:
            return None
        keys[p.group(1)] = p.group(2)
        pos = p.end()
        if pos < len(rest):
            if rest[pos] != ' ':
                return None
            pos += 1
    return keys


class LogInjection(ServerTestCase, unittest.TestCase):
    # A short pause after the many failed logins: the test is about the log.
    SERVER_ARGS = dict(accounts=[ALICE], config={'auth-max-delay': '1'})

    def smtp_fields(self):
        for v in NASTY:
            try:
                self.smtp_one(v)
            except (Closed, OSError):
                pass  # the server may hang up on bad input: fine, the log is what counts

    def smtp_one(self, v):
        raw = v.replace('\r\n', ' ').replace('\n', ' ').encode('latin-1')
        with RawSMTP(self.srv.smtp_port) as c:
            c.send(b'EHLO ' + raw + b'\r\n')
            c.reply()
            c.send(b'HELO x' + raw + b'\r\n')
            c.reply()
            local = raw.replace(b'"', b'').replace(b'\\', b'')
            c.send(b'MAIL FROM:<"' + local + b'"@remote.test>\r\n')
            c.reply()
            c.send(b'MAIL FROM:<sender@remote.test>\r\n')
            c.reply()
            c.send(b'RCPT TO:<"' + local + b'"@' + DOMAIN.encode() + b'>\r\n')
            c.reply()
            c.send(b'RCPT TO:<' + ALICE.encode() + b'>\r\n')
            if c.reply().code == 250:
                c.send(b'DATA\r\n')
                if c.reply().code == 354:
                    c.send(b'Subject: x\r\n\r\nhello\r\n.\r\n')
                    c.reply()
            c.send(b'QUIT\r\n')
        # AUTH PLAIN (base64 carries CR, LF and NUL) on submission.
        with RawSMTP(self.srv.port_offset + 587) as c:
            c.ehlo()
            user = v.encode('latin-1')
            blob = base64.b64encode(b'\0' + user + b'\0wrong-password').decode()
            c.send(('AUTH PLAIN %s\r\n' % blob).encode())
            c.reply()
            blob = base64.b64encode(user + b'\0' + ALICE.encode() + b'\0' +
                                    DEFAULT_PASSWORD.encode()).decode()
            c.send(('AUTH PLAIN %s\r\n' % blob).encode())
            c.reply()
            c.send(b'QUIT\r\n')

    def imap_fields(self):
        for v in NASTY:
            try:
                self.imap_one(v)
            except (Closed, OSError):
                pass

    def imap_one(self, v):
        data = v.encode('latin-1')
        with RawIMAP(self.srv.imap_port) as c:
            c.command('LOGIN {%d}' % len(data), data, ' wrong-password')
            c.command('AUTHENTICATE PLAIN %s' % base64.b64encode(
                b'\0' + data + b'\0wrong-password').decode())
            c.command('ID ("name" {%d}' % len(data), data, ' "version" "1")')
            c.command('LOGIN %s %s' % (quote(ALICE), quote(DEFAULT_PASSWORD)))
            c.command('ID ("name" {%d}' % len(data), data, ')')
            c.command('CREATE {%d}' % len(data), data, '')
            c.command('SELECT {%d}' % len(data), data, '')
            c.command('STATUS {%d}' % len(data), data, ' (MESSAGES)')
            c.command('LIST "" {%d}' % len(data), data, '')
            c.command('X' + v.replace('\r', '').replace('\n', ''))
            c.cmd('LOGOUT')

    def pop3_fields(self):
        for v in NASTY:
            try:
                self.pop3_one(v)
            except (Closed, OSError):
                pass

    def pop3_one(self, v):
        raw = v.replace('\r\n', ' ').replace('\n', ' ').encode('latin-1')
        with RawPOP3(self.srv.pop3_port) as p:
            p.send(b'USER ' + raw + b'\r\n')
            p.line()
            p.send(b'PASS wrong\r\n')
            p.line()
            p.send(b'QUIT\r\n')

    def test_log_is_one_well_formed_line_per_event(self):
        self.smtp_fields()
        self.imap_fields()
        self.pop3_fields()
        # An app password whose label carries the payload (labels come from the CLI).
        out = self.srv.run('account', 'app-password', 'add', ALICE, '--label',
                           'Phone"' + PAYLOAD).stdout
        pw = re.search(rb'password: (\S+)', out).group(1).decode()
        # Control characters in a label are refused outright (it would garble every list).
        cp = self.srv.run('account', 'app-password', 'add', ALICE, '--label',
                          'Tab\tPhone\n' + PAYLOAD, check=False)
        self.assertEqual(cp.returncode, 1, cp)
        self.assertIn(b'control characters', cp.stderr)
        with RawIMAP(self.srv.imap_port) as c:
            c.login(ALICE, pw)
            c.cmd('LOGOUT')
        self.srv.stop()
        self.srv.serve()  # the log is complete; the server keeps serving for check()
        with open(self.srv.log_path, 'rb') as f:
            raw = f.read()
        bad_bytes = [b for b in set(raw) if (b < 0x20 and b != 0x0a) or b == 0x7f]
        self.assertEqual(bad_bytes, [], 'raw control bytes in the log')
        text = raw.decode('utf-8', errors='strict')
        logins = 0
        for line in text.splitlines():
            kv = parse_line(line)
            self.assertIsNotNone(kv, 'not one key=value event per line: %r' % line)
            self.assertNotEqual(kv.get('account'), FORGED, line)
            if kv.get('event') == 'login':
                logins += 1
                self.assertRegex(kv['result'], r'^[a-z-]+$', line)
        self.assertGreaterEqual(logins, 3 * len(NASTY), 'the logins were logged')
        audit = self.srv.run('audit', '--limit', '100000').stdout.decode('utf-8')
        lines = audit.splitlines()
        self.assertEqual(len(lines), logins, audit)
        for line in lines:
            kv = parse_line(line, r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC')
            self.assertIsNotNone(kv, 'not one audit event per line: %r' % line)
            self.assertEqual(list(kv), ['account', 'device', 'protocol', 'ip', 'tls', 'result'],
                             line)
            self.assertNotEqual(kv['account'], FORGED, line)


if __name__ == '__main__':
    unittest.main()
