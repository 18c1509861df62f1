"""IMAP sessions: greeting, CAPABILITY, STARTTLS and implicit TLS, LOGIN and AUTHENTICATE PLAIN
(with SASL-IR), app passwords (devices as in docs/pop3.md), plaintext-auth = never
(LOGINDISABLED / PRIVACYREQUIRED), ENABLE, ID, NAMESPACE, NOOP, LOGOUT, commands in the wrong
state, unknown commands, syntax errors, parser limits, too many errors -> BYE, and the
per-account session limit (max-imap-sessions-per-account -> NO [LIMIT])."""

import imaplib
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEFAULT_PASSWORD, HOSTNAME, ServerTestCase  # noqa: E402
from imap_common import (Closed, RawIMAP, app_password_add, assert_status,  # noqa: E402
                         auth_plain_b64, imap, logged_in, ok)

DOMAIN = 'example.test'
ALICE = 'alice@' + DOMAIN
BOB = 'bob@' + DOMAIN
DEVICE = 'device@' + DOMAIN
OFF = 'off@' + DOMAIN

# What the server says it implements now (the brief); each must be in CAPABILITY.
REQUIRED_CAPS = ('IMAP4rev1 IMAP4rev2 LITERAL- SASL-IR ID ENABLE IDLE UIDPLUS MOVE UNSELECT '
                 'NAMESPACE CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS '
                 'CONDSTORE ESEARCH SEARCHRES BINARY QUOTA QUOTA=RES-STORAGE STATUS=SIZE').split()


def caps_of(res):
    lines = res.lines('CAPABILITY')
    if len(lines) != 1:
        raise AssertionError('expected one * CAPABILITY line: %r' % res)
    return lines[0].split()[1:]


class ImapLogin(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB, DEVICE, OFF],
                       config={'auth-max-delay': 1, 'max-message-size': 5000000})

    def test_greeting_and_capability(self):
        with RawIMAP(self.srv.imap_port) as c:
            g = c.greeting.line
            m = re.match(r'^\* OK \[CAPABILITY ([^\]]*)\] (.*)$', g)
            self.assertTrue(m, 'greeting not "* OK [CAPABILITY ...] text": %r' % g)
            self.assertIn(HOSTNAME, m.group(2))
            greet_caps = m.group(1).split()
            r = c.cmd('CAPABILITY')
            assert_status(self, r, 'OK')
            caps = caps_of(r)
            self.assertEqual(sorted(caps), sorted(greet_caps),
                             'greeting and CAPABILITY list different capabilities')
            for cap in REQUIRED_CAPS:
                self.assertIn(cap, caps)
            self.assertIn('APPENDLIMIT=5000000', caps, 'APPENDLIMIT is not max-message-size')
            self.assertIn('STARTTLS', caps)
            self.assertIn('AUTH=PLAIN', caps, 'loopback may log in without TLS')
            self.assertNotIn('LOGINDISABLED', caps)

    def test_login_ok_capability_code(self):
        with RawIMAP(self.srv.imap_port) as c:
            r = c.cmd('LOGIN %s "%s"' % (ALICE, DEFAULT_PASSWORD))
            assert_status(self, r, 'OK')
            # RFC 9051 7.1: a response code comes first, in brackets, right after "OK ".
            # A capability list in the text (not as the code) is noise clients cannot use.
            self.assertNotIn('[CAPABILITY', r.text,
                             'CAPABILITY put in the text of the tagged OK, not as its response '
                             'code: %r' % r.tagged.line)
            if r.code:
                self.assertEqual(r.code_name, 'CAPABILITY', r)
            caps = caps_of(c.cmd('CAPABILITY'))
            for cap in ('STARTTLS', 'AUTH=PLAIN', 'LOGINDISABLED'):
                self.assertNotIn(cap, caps, 'after login CAPABILITY still lists ' + cap)
            for cap in REQUIRED_CAPS:
                self.assertIn(cap, caps)
            r = c.cmd('LOGIN %s "%s"' % (ALICE, DEFAULT_PASSWORD))
            assert_status(self, r, 'BAD', msg='LOGIN when logged in')
            r = c.cmd('AUTHENTICATE PLAIN ' + auth_plain_b64(ALICE, DEFAULT_PASSWORD))
            assert_status(self, r, 'BAD', msg='AUTHENTICATE when logged in')
            r = c.cmd('STARTTLS')
            assert_status(self, r, 'BAD', msg='STARTTLS when logged in')

    def test_login_with_imaplib_literal_password(self):
        # A password with a space and a quote: imaplib quotes it; send it as a literal too.
        addr = 'lit@' + DOMAIN
        pw = 'with space "quote" \\ back'
        self.srv.add_account(addr, pw)
        m = imap(self.srv, addr, pw)
        ok(self, m.noop(), 'NOOP')
        m.logout()
        with RawIMAP(self.srv.imap_port) as c:
            r = c.command('LOGIN {%d}' % len(addr), addr.encode(), ' {%d}' % len(pw),
                          pw.encode(), '')
            assert_status(self, r, 'OK', msg='LOGIN with literals')

    def test_login_failures(self):
        with RawIMAP(self.srv.imap_port, timeout=15) as c:
            r = c.cmd('LOGIN %s wrong-password' % ALICE)
            assert_status(self, r, 'NO', 'AUTHENTICATIONFAILED')
            r = c.cmd('LOGIN nobody@%s "%s"' % (DOMAIN, DEFAULT_PASSWORD))
            assert_status(self, r, 'NO', 'AUTHENTICATIONFAILED')
            r = c.cmd('LOGIN %s' % ALICE)
            assert_status(self, r, 'BAD', msg='LOGIN without password')
            # Still not logged in, and a right password works in the same session.
            r = c.cmd('SELECT INBOX')
            assert_status(self, r, 'BAD', msg='SELECT before login')
            r = c.cmd('LOGIN %s "%s"' % (ALICE, DEFAULT_PASSWORD))
            assert_status(self, r, 'OK')

    def test_authenticate_plain(self):
        b64 = auth_plain_b64(BOB, DEFAULT_PASSWORD)
        # Continuation: "+ " then the response line.
        with RawIMAP(self.srv.imap_port) as c:
            c.send('a1 AUTHENTICATE PLAIN\r\n')
            cont = c.response()
            self.assertTrue(cont.line.startswith('+'), cont)
            c.send(b64 + '\r\n')
            r = c.until_tagged('a1')
            assert_status(self, r, 'OK')
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
        # SASL-IR: initial response on the command line.
        with RawIMAP(self.srv.imap_port) as c:
            assert_status(self, c.cmd('AUTHENTICATE PLAIN ' + b64), 'OK')
            assert_status(self, c.cmd('LIST "" INBOX'), 'OK')
        # imaplib's authenticate() (continuation form).
        m = imaplib.IMAP4('127.0.0.1', self.srv.imap_port, timeout=10)
        typ, _ = m.authenticate('PLAIN', lambda _: ('\0%s\0%s' % (BOB, DEFAULT_PASSWORD))
                                .encode())
        self.assertEqual(typ, 'OK')
        m.logout()

    def test_authenticate_errors(self):
        with RawIMAP(self.srv.imap_port, timeout=15) as c:
            # Cancelled with "*": BAD (RFC 9051 6.2.2).
            c.send('a1 AUTHENTICATE PLAIN\r\n')
            self.assertTrue(c.response().line.startswith('+'))
            c.send('*\r\n')
            assert_status(self, c.until_tagged('a1'), 'BAD', msg='cancelled AUTHENTICATE')
            r = c.cmd('AUTHENTICATE CRAM-MD5')
            self.assertIn(r.status, ('NO', 'BAD'), r)
            r = c.cmd('AUTHENTICATE PLAIN ' + auth_plain_b64(ALICE, 'wrong'))
            assert_status(self, r, 'NO', 'AUTHENTICATIONFAILED')
            r = c.cmd('AUTHENTICATE PLAIN !!!not-base64!!!')
            self.assertIn(r.status, ('NO', 'BAD'), r)
            # Logging in as someone else (authzid != authcid) is refused.
            r = c.cmd('AUTHENTICATE PLAIN ' + auth_plain_b64(ALICE, DEFAULT_PASSWORD, BOB))
            assert_status(self, r, 'NO')
            r = c.cmd('AUTHENTICATE')
            assert_status(self, r, 'BAD', msg='AUTHENTICATE without mechanism')
            r = c.cmd('AUTHENTICATE PLAIN ' + auth_plain_b64(ALICE, DEFAULT_PASSWORD))
            assert_status(self, r, 'OK', msg='good AUTHENTICATE after failures')

    def test_starttls(self):
        with RawIMAP(self.srv.imap_port) as c:
            c.starttls()
            caps = caps_of(c.cmd('CAPABILITY'))
            self.assertNotIn('STARTTLS', caps, 'STARTTLS offered again inside TLS')
            self.assertIn('AUTH=PLAIN', caps)
            r = c.cmd('STARTTLS')
            assert_status(self, r, 'BAD', msg='second STARTTLS')
            c.login(ALICE)
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
        # imaplib's starttls().
        m = imap(self.srv, ALICE, mode='starttls')
        ok(self, m.select('INBOX'), 'SELECT')
        m.logout()

    def test_starttls_discards_pipelined_plaintext(self):
        # Bytes sent after STARTTLS in the same packet must not be run inside TLS
        # (the command-injection attack of CVE-2011-0411 and its IMAP cousins).
        with RawIMAP(self.srv.imap_port) as c:
            c.send('s1 STARTTLS\r\ns2 CAPABILITY\r\n')
            r = c.until_tagged('s1')
            assert_status(self, r, 'OK')
            from harness import client_tls_context
            # Whatever followed in plaintext must be dropped; "s2" can only have been
            # answered before the handshake, which would break it.
            c.sock = client_tls_context().wrap_socket(c.sock, server_hostname=HOSTNAME)
            c.buf = b''
            r = c.cmd('NOOP')
            for u in r.untagged:
                self.assertNotIn('CAPABILITY', u.line, 'plaintext command ran inside TLS')
            assert_status(self, r, 'OK')

    def test_implicit_tls(self):
        with RawIMAP(self.srv.imaps_port, tls=True) as c:
            self.assertTrue(c.greeting.line.startswith('* OK'), c.greeting)
            caps = caps_of(c.cmd('CAPABILITY'))
            self.assertNotIn('STARTTLS', caps)
            self.assertIn('AUTH=PLAIN', caps)
            c.login(ALICE)
        m = imap(self.srv, ALICE, mode='ssl')
        ok(self, m.select('INBOX'), 'SELECT')
        m.logout()

    def test_app_password_device(self):
        pw = app_password_add(self.srv, DEVICE, 'Sato iPhone')
        m = imap(self.srv, DEVICE, pw, mode='ssl')
        ok(self, m.select('INBOX'), 'SELECT')
        m.logout()
        # The login's bookkeeping is written in the background: allow it a moment.
        deadline = time.monotonic() + 3
        while True:
            listing = self.srv.run('account', 'app-password', 'list', DEVICE).stdout.decode()
            line = [l for l in listing.splitlines() if l.startswith('Sato iPhone\t')]
            self.assertEqual(len(line), 1, listing)
            if not line[0].endswith('\tnever') or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertRegex(line[0], r'\bimap', 'last use over IMAP not recorded: %r' % line[0])
        audit = self.srv.run('audit', '--account', DEVICE).stdout.decode()
        self.assertRegex(audit, r'device="Sato iPhone" protocol=imap ip=127\.0\.0\.1 tls=yes '
                                r'result=ok', audit)
        self.srv.run('account', 'app-password', 'revoke', DEVICE, 'Sato iPhone')
        with RawIMAP(self.srv.imap_port, timeout=15) as c:
            r = c.cmd('LOGIN %s %s' % (DEVICE, pw))
            assert_status(self, r, 'NO', 'AUTHENTICATIONFAILED', msg='revoked app password')

    def test_account_password_off(self):
        pw = app_password_add(self.srv, OFF, 'laptop')
        self.srv.run('account', 'set', OFF, 'account-password', 'off')
        with RawIMAP(self.srv.imap_port, timeout=15) as c:
            r = c.cmd('LOGIN %s "%s"' % (OFF, DEFAULT_PASSWORD))
            assert_status(self, r, 'NO', 'AUTHENTICATIONFAILED')
            self.assertRegex(r.text, r'(?i)app password', 'the sentence should say to use the '
                             'app password: %r' % r)
            r = c.cmd('LOGIN %s %s' % (OFF, pw))
            assert_status(self, r, 'OK')
        audit = self.srv.run('audit', '--account', OFF).stdout.decode()
        self.assertRegex(audit, r'protocol=imap .*result=disabled', audit)


class ImapCommands(ServerTestCase, unittest.TestCase):
    """Commands that are not about messages, states, unknown commands and syntax errors."""
    SERVER_ARGS = dict(accounts=[ALICE])

    def test_enable(self):
        with logged_in(self.srv, ALICE) as c:
            r = c.cmd('ENABLE CONDSTORE')
            assert_status(self, r, 'OK')
            self.assertEqual(r.lines('ENABLED'), ['ENABLED CONDSTORE'])
            r = c.cmd('ENABLE CONDSTORE')
            self.assertEqual(r.lines('ENABLED'), ['ENABLED'], 'enabled twice')
            r = c.cmd('ENABLE X-UNKNOWN-THING')
            assert_status(self, r, 'OK')
            self.assertEqual(r.lines('ENABLED'), ['ENABLED'])
            # CONDSTORE on: SELECT reports HIGHESTMODSEQ and FETCH carries MODSEQ.
            r = c.cmd('SELECT INBOX')
            self.assertTrue(any(l.startswith('OK [HIGHESTMODSEQ ') for l in r.lines('OK')), r)
            r = c.cmd('ENABLE IMAP4rev2')
            self.assertEqual(r.lines('ENABLED'), ['ENABLED IMAP4rev2'])
            r = c.cmd('SELECT INBOX')
            self.assertEqual(r.lines('0 RECENT'), [], 'IMAP4rev2 has no RECENT response')
        with RawIMAP(self.srv.imap_port) as c:
            r = c.cmd('ENABLE CONDSTORE')
            assert_status(self, r, 'BAD', msg='ENABLE before login')

    def test_id_namespace_noop(self):
        with RawIMAP(self.srv.imap_port) as c:
            for line in ('ID NIL', 'ID ("name" "integration-test" "version" "1")'):
                r = c.cmd(line)
                assert_status(self, r, 'OK')
                ids = r.lines('ID ')
                self.assertEqual(len(ids), 1, r)
                self.assertRegex(ids[0], r'^ID \(.*"name" "yubin"', r)
            assert_status(self, c.cmd('NOOP'), 'OK')
            c.login(ALICE)
            r = c.cmd('NAMESPACE')
            assert_status(self, r, 'OK')
            self.assertEqual(r.lines('NAMESPACE'), ['NAMESPACE (("" "/")) NIL NIL'])
            assert_status(self, c.cmd('NOOP'), 'OK')
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            assert_status(self, c.cmd('NOOP'), 'OK')
            assert_status(self, c.cmd('CHECK'), 'OK')
            r = c.cmd('LOGOUT')
            assert_status(self, r, 'OK')
            self.assertTrue(r.lines('BYE'), 'LOGOUT without * BYE: %r' % r)
            self.assertTrue(c.wait_closed(5), 'connection still open after LOGOUT')
        m = imap(self.srv, ALICE)
        typ, data = m.namespace()
        self.assertEqual(typ, 'OK')
        self.assertEqual(m.logout()[0], 'BYE')

    def test_wrong_state(self):
        # A fresh connection every few commands: each BAD counts towards max-errors.
        before = ('SELECT INBOX', 'EXAMINE INBOX', 'LIST "" *', 'STATUS INBOX (MESSAGES)',
                  'CREATE x', 'APPEND INBOX {1+}\r\nx', 'FETCH 1 FLAGS', 'IDLE',
                  'GETQUOTAROOT INBOX', 'NAMESPACE', 'UID FETCH 1 FLAGS', 'CLOSE', 'ENABLE X')
        for k in range(0, len(before), 5):
            with RawIMAP(self.srv.imap_port) as c:
                for line in before[k:k + 5]:
                    r = c.cmd(line)
                    self.assertIn(r.status, ('BAD', 'NO'), '%s before login: %r' % (line, r))
                assert_status(self, c.cmd('NOOP'), 'OK', msg='the session goes on')
        selected = ('FETCH 1 FLAGS', 'STORE 1 +FLAGS (\\Seen)', 'SEARCH ALL',
                    'UID SEARCH ALL', 'COPY 1 Trash', 'MOVE 1 Trash', 'EXPUNGE',
                    'UID EXPUNGE 1', 'CLOSE', 'UNSELECT', 'CHECK', 'UID STORE 1 FLAGS ()')
        for k in range(0, len(selected), 5):
            with logged_in(self.srv, ALICE) as c:
                for line in selected[k:k + 5]:
                    r = c.cmd(line)
                    assert_status(self, r, 'BAD', msg='%s without a selected mailbox' % line)
                assert_status(self, c.cmd('NOOP'), 'OK', msg='the session goes on')

    def test_unknown_and_syntax(self):
        with logged_in(self.srv, ALICE) as c:
            r = c.cmd('XYZZY')
            assert_status(self, r, 'BAD', msg='unknown command')
            self.assertNotRegex(r.text, r'(?i)select a mailbox',
                                'an unknown command is not about a selected mailbox: %r' % r)
            r = c.cmd('UID XYZZY 1')
            assert_status(self, r, 'BAD', msg='unknown UID command')
            r = c.cmd('UID')
            assert_status(self, r, 'BAD', msg='UID alone')
            r = c.cmd('SELECT')
            assert_status(self, r, 'BAD', msg='SELECT without mailbox')
            r = c.cmd('SELECT "INBOX')
            assert_status(self, r, 'BAD', msg='unterminated quoted string')
            r = c.cmd('LIST "" (')
            self.assertEqual(r.status, 'BAD', r)
            # An empty line: ignored or an untagged "* BAD"; the session goes on.
            c.send('\r\n')
            r = c.cmd('NOOP')
            assert_status(self, r, 'OK')
            for u in r.untagged:
                self.assertTrue(u.line.startswith('* BAD'), r)
            # Tags may not contain '+' or '*' and so on.
            c.send('a+b NOOP\r\n')
            resp = c.response()
            self.assertIn('BAD', resp.line, 'bad tag accepted: %r' % resp)
            assert_status(self, c.cmd('NOOP'), 'OK')

    def test_argument_checks(self):
        # Arguments the grammar does not allow are BAD, not silently ignored.
        with logged_in(self.srv, ALICE) as c:
            wrong = []
            for line in ('ENABLE', 'ID foo', 'LIST (NOSUCHOPTION) "" *',
                         'SELECT INBOX (NOSUCHPARAM)', 'LIST "" * RETURN (NOSUCHOPTION)'):
                r = c.cmd(line)
                if r.status != 'BAD':
                    wrong.append('%s -> %s' % (line, r.tagged.line))
            self.assertEqual(wrong, [], 'expected BAD')

    def test_literals(self):
        with logged_in(self.srv, ALICE) as c:
            # LITERAL-: a non-synchronizing literal up to 4096 bytes needs no "+".
            r = c.command('STATUS {5+}', b'INBOX', ' (MESSAGES)')
            assert_status(self, r, 'OK', msg='{5+} literal')
            self.assertEqual(len(r.lines('STATUS')), 1)
            # Synchronizing literal as a mailbox name.
            r = c.command('STATUS {5}', b'INBOX', ' (MESSAGES)')
            assert_status(self, r, 'OK', msg='{5} literal')
            # Before login a big literal is refused (no buffering for strangers).
        with RawIMAP(self.srv.imap_port) as c:
            c.send('b1 LOGIN {100000}\r\n')
            r = c.until_tagged('b1')
            self.assertIn(r.status, ('BAD', 'NO'), r)
            assert_status(self, c.cmd('NOOP'), 'OK', msg='session after refused literal')

    def test_parser_limits(self):
        with logged_in(self.srv, ALICE) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            # Nesting deeper than the parser allows (16): BAD, and the session goes on.
            deep = 'SEARCH ' + '(' * 40 + 'ALL' + ')' * 40
            r = c.cmd(deep)
            assert_status(self, r, 'BAD', msg='40 nested parentheses')
            assert_status(self, c.cmd('NOOP'), 'OK')
            # A command line longer than the parser's line limit (64 KiB): BAD.
            r = c.cmd('SEARCH SUBJECT "%s"' % ('x' * 70000))
            assert_status(self, r, 'BAD', msg='70 kB command line')
            assert_status(self, c.cmd('NOOP'), 'OK', msg='session after a too long line')
            # A non-synchronizing literal above LITERAL-'s 4096: the client sends the bytes
            # anyway; the server must refuse without running them as commands.
            c.send(b'n1 APPEND INBOX {5000+}\r\n' + b'a2 LOGOUT\r\n' * 416 + b'xxxx\r\n')
            try:
                resp = c.until_tagged('n1')
                self.assertEqual(resp.status, 'BAD', resp)
                for u in resp.untagged:
                    self.assertFalse(u.line.startswith('* BYE Logging out'),
                                     'literal data run as commands: %r' % resp)
            except Closed:
                pass  # closing is an acceptable answer too (RFC 7888 4)

    def test_too_many_errors(self):
        with logged_in(self.srv, ALICE) as c:
            # max-errors (default 10): the 10th BAD ends the session with BYE.
            for i in range(9):
                r = c.cmd('BOGUS%d' % i)
                assert_status(self, r, 'BAD')
            self.assertFalse(any(u.line.startswith('* BYE') for u in r.untagged))
            c.send('z1 BOGUS\r\n')
            r = c.until_tagged('z1')
            self.assertEqual(r.status, 'BAD', r)
            bye = c.response()
            self.assertTrue(bye.line.startswith('* BYE'), 'no BYE after too many errors: %r' % bye)
            self.assertTrue(c.wait_closed(5), 'still open after BYE')
        # The server goes on serving others.
        with logged_in(self.srv, ALICE) as c:
            assert_status(self, c.cmd('NOOP'), 'OK')


class ImapInput(ServerTestCase, unittest.TestCase):
    """How commands arrive: many in one packet, one byte at a time, literals split anywhere."""
    SERVER_ARGS = dict(accounts=[ALICE])

    def test_pipelined_commands(self):
        with logged_in(self.srv, ALICE) as c:
            msg = b'Subject: pipelined\r\n\r\nbody\r\n'
            batch = [b'p1 SELECT INBOX\r\n',
                     b'p2 APPEND INBOX {%d+}\r\n' % len(msg) + msg + b'\r\n',
                     b'p3 NOOP\r\n']
            batch += [b'q%d FETCH 1 (FLAGS UID)\r\n' % i for i in range(40)]
            batch += [b'p4 STATUS INBOX (MESSAGES)\r\n', b'p5 LOGOUT\r\n']
            c.send(b''.join(batch))
            tags = []
            while True:
                r = c.response()
                m = re.match(r'^([a-z]\d+) (OK|NO|BAD)', r.line)
                if m:
                    tags.append(m.group(1))
                    self.assertEqual(m.group(2), 'OK', r)
                    if m.group(1) == 'p5':
                        break
            want = ['p1', 'p2', 'p3'] + ['q%d' % i for i in range(40)] + ['p4', 'p5']
            self.assertEqual(tags, want, 'pipelined commands answered out of order')

    def test_one_byte_at_a_time(self):
        with RawIMAP(self.srv.imap_port) as c:
            msg = b'Subject: slow\r\n\r\nslow body\r\n'
            data = (b'b1 LOGIN %s "%s"\r\n' % (ALICE.encode(), DEFAULT_PASSWORD.encode()) +
                    b'b2 APPEND INBOX (\\Seen) {%d+}\r\n' % len(msg) + msg + b'\r\n' +
                    b'b3 SELECT INBOX\r\nb4 UID FETCH * (BODY.PEEK[HEADER.FIELDS (Subject)])\r\n')
            for i in range(len(data)):
                c.sock.sendall(data[i:i + 1])
                if i % 50 == 0:
                    time.sleep(0.001)
            for tag in ('b1', 'b2', 'b3'):
                assert_status(self, c.until_tagged(tag), 'OK', msg=tag)
            r = c.until_tagged('b4')
            assert_status(self, r, 'OK')
            self.assertIn(b'Subject: slow\r\n\r\n', r.untagged[-1].raw)

    def test_shutdown_says_bye(self):
        with logged_in(self.srv, ALICE) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            c.send('i1 IDLE\r\n')
            self.assertTrue(c.response().line.startswith('+'))
            self.srv.restart()      # SIGTERM must still exit 0 with IMAP sessions open
            r, _, _ = c.read_until(lambda x: x.line.startswith('* BYE'), 10)
            self.assertTrue(c.wait_closed(5), 'connection open after BYE')
        with logged_in(self.srv, ALICE) as c:
            assert_status(self, c.cmd('NOOP'), 'OK')

    def test_uids_stable_and_never_reused(self):
        # UIDVALIDITY and UIDs survive a restart, and an expunged UID is never given again
        # (RFC 9051 2.3.1.1): sync clients depend on both.
        def state(c):
            r = c.cmd('SELECT Drafts')
            uv = re.search(r'UIDVALIDITY (\d+)', ' '.join(r.lines('OK'))).group(1)
            nxt = int(re.search(r'UIDNEXT (\d+)', ' '.join(r.lines('OK'))).group(1))
            uids = [l.split('UID ')[1].rstrip(')') for l in c.cmd('FETCH 1:* UID').lines()] \
                if not r.lines('0 EXISTS') else []
            return uv, nxt, uids
        msg = b'Subject: draft\r\n\r\nx\r\n'
        with logged_in(self.srv, ALICE) as c:
            for _ in range(3):
                assert_status(self, c.command('APPEND Drafts {%d}' % len(msg), msg, ''), 'OK')
            before = state(c)
            self.assertEqual(len(before[2]), 3)
            assert_status(self, c.cmd('UID STORE %s +FLAGS.SILENT (\\Deleted)' % before[2][-1]),
                          'OK')
            assert_status(self, c.cmd('EXPUNGE'), 'OK')
        self.srv.restart()
        with logged_in(self.srv, ALICE) as c:
            after = state(c)
            self.assertEqual(after[0], before[0], 'UIDVALIDITY changed across a restart')
            self.assertEqual(after[2], before[2][:2], 'UIDs changed across a restart')
            self.assertEqual(after[1], before[1], 'UIDNEXT went back after expunging the last '
                             'message and a restart')
            r = c.command('APPEND Drafts {%d}' % len(msg), msg, '')
            assert_status(self, r, 'OK', 'APPENDUID')
            self.assertEqual(r.code.split()[2], str(before[1]),
                             'the expunged UID %s was given again' % before[2][-1])

    def test_failed_login_audited(self):
        with RawIMAP(self.srv.imap_port, timeout=30) as c:
            r = c.cmd('LOGIN %s wrong-password' % ALICE)
            assert_status(self, r, 'NO', 'AUTHENTICATIONFAILED')
        deadline = time.monotonic() + 3
        while True:
            audit = self.srv.run('audit', '--account', ALICE).stdout.decode()
            if 'result=bad-password' in audit or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertRegex(audit, r'protocol=imap ip=127\.0\.0\.1 tls=no result=bad-password',
                         audit)


class ImapConnectionLimit(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'max-connections-per-ip': 3})

    def test_per_ip_limit(self):
        conns = [RawIMAP(self.srv.imap_port) for _ in range(3)]
        try:
            for c in conns:
                self.assertTrue(c.greeting.line.startswith('* OK'), c.greeting)
            with RawIMAP(self.srv.imap_port) as extra:
                self.assertTrue(extra.greeting.line.startswith('* BYE'),
                                'fourth connection from one address: %r' % extra.greeting)
                self.assertTrue(extra.wait_closed(5))
        finally:
            for c in conns:
                c.close()
        time.sleep(0.2)
        with logged_in(self.srv, ALICE) as c:
            assert_status(self, c.cmd('NOOP'), 'OK')


class ImapPlaintextNever(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE], config={'plaintext-auth': 'never'})

    def test_logindisabled(self):
        with RawIMAP(self.srv.imap_port) as c:
            caps = caps_of(c.cmd('CAPABILITY'))
            self.assertIn('LOGINDISABLED', caps)
            self.assertIn('STARTTLS', caps)
            self.assertNotIn('AUTH=PLAIN', caps)
            r = c.cmd('LOGIN %s "%s"' % (ALICE, DEFAULT_PASSWORD))
            assert_status(self, r, 'NO', 'PRIVACYREQUIRED')
            self.assertRegex(r.text, r'(?i)TLS', r)
            r = c.cmd('AUTHENTICATE PLAIN ' + auth_plain_b64(ALICE, DEFAULT_PASSWORD))
            assert_status(self, r, 'NO', 'PRIVACYREQUIRED')
            c.starttls()
            caps = caps_of(c.cmd('CAPABILITY'))
            self.assertNotIn('LOGINDISABLED', caps)
            self.assertIn('AUTH=PLAIN', caps)
            c.login(ALICE)
        with RawIMAP(self.srv.imaps_port, tls=True) as c:
            c.login(ALICE)
        # imaplib refuses to send LOGIN when LOGINDISABLED is advertised.
        m = imaplib.IMAP4('127.0.0.1', self.srv.imap_port, timeout=10)
        with self.assertRaises(imaplib.IMAP4.error):
            m.login(ALICE, DEFAULT_PASSWORD)
        m.shutdown()


class ImapSessionLimit(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB], config={'max-imap-sessions-per-account': 2})

    def test_limit(self):
        a = logged_in(self.srv, ALICE)
        b = logged_in(self.srv, ALICE, tls=True)
        try:
            with RawIMAP(self.srv.imap_port) as c:
                r = c.cmd('LOGIN %s "%s"' % (ALICE, DEFAULT_PASSWORD))
                assert_status(self, r, 'NO', 'LIMIT', msg='third session of the account')
                # Another account is not affected.
                c2 = logged_in(self.srv, BOB)
                c2.close()
                # Once one session ends, a new one may log in (still on this connection).
                r = a.cmd('LOGOUT')
                assert_status(self, r, 'OK')
                a.wait_closed(5)
                deadline = time.monotonic() + 3
                while True:
                    r = c.cmd('LOGIN %s "%s"' % (ALICE, DEFAULT_PASSWORD))
                    if r.status == 'OK' or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                assert_status(self, r, 'OK', msg='login after another session logged out')
        finally:
            a.close()
            b.close()


if __name__ == '__main__':
    unittest.main()
