"""POP3 retrieval with Python's poplib (a real client) and a raw socket client: messages
delivered over SMTP come back byte for byte through RETR, with LIST/STAT sizes equal to the
stored sizes, TOP, UIDL stable across sessions, devices and a restart; USER/PASS, AUTH PLAIN,
STLS and implicit TLS (docs/pop3.md)."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_PASSWORD, RawSMTP, ServerTestCase, assert_stored,  # noqa: E402
                     dot_stuff, message, token)
from pop3_common import (GREETING_RE, SENDER, RawPOP3, app_password_add, assert_ok,  # noqa
                         auth_plain_b64, deliver, list_sizes, pop, quit_, retr_bytes,
                         stored_by_marker, uidl_map)

DOMAIN = 'example.test'
UID_RE = re.compile(r'^\d+\.\d+$')


def acct(name):
    return '%s@%s' % (name, DOMAIN)


ACCOUNTS = [acct(n) for n in ('retr', 'top', 'dots', 'big', 'authplain', 'authplain2', 'stls',
                              'ssl', 'uidl', 'rset', 'empty', 'pipe', 'restart', 'eightbit',
                              'longline', 'pipebig', 'bdat')]


class Pop3Basic(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=ACCOUNTS)

    def deliver_n(self, addr, n, body=None):
        sent = [deliver(self.srv, addr, body=body) for _ in range(n)]
        stored = stored_by_marker(self.srv, addr)
        self.assertEqual(sorted(stored), sorted(m for m, _ in sent),
                         'export does not hold exactly the delivered messages')
        for marker, msg in sent:
            assert_stored(stored[marker], SENDER, msg)
        return sent, stored

    def check_maildrop(self, p, sent, stored):
        """STAT/LIST/UIDL/RETR of a session against what was delivered and stored."""
        count, total = p.stat()
        self.assertEqual(count, len(sent), 'STAT message count')
        self.assertEqual(total, sum(len(m) for m in stored.values()),
                         'STAT size is not the sum of the stored sizes')
        sizes = list_sizes(p)
        self.assertEqual(sorted(sizes), list(range(1, len(sent) + 1)), 'LIST numbers')
        uids = uidl_map(p)
        self.assertEqual(sorted(uids), list(range(1, len(sent) + 1)), 'UIDL numbers')
        for n in sizes:
            self.assertRegex(uids[n], UID_RE, 'UIDL is not UIDVALIDITY.UID')
        self.assertEqual(len(set(uids.values())), len(uids), 'UIDLs not unique: %r' % uids)
        got_markers = []
        for n in sorted(sizes):
            data, octets = retr_bytes(p, n)
            m = re.search(rb'marker (T[0-9a-f]{16})', data)
            self.assertIsNotNone(m, 'RETR %d: no marker in %r' % (n, data[:300]))
            marker = m.group(1).decode()
            got_markers.append(marker)
            self.assertEqual(data, stored[marker], 'RETR %d differs from the stored message' % n)
            assert_stored(data, SENDER, dict(sent)[marker])
            self.assertEqual(sizes[n], len(data), 'LIST %d size != retrieved size' % n)
            self.assertEqual(octets, len(data), 'RETR %d octets' % n)
            # LIST n and UIDL n agree with the full listings.
            self.assertEqual(p.list(n).decode(), '+OK %d %d' % (n, sizes[n]))
            self.assertEqual(p.uidl(n).decode(), '+OK %d %s' % (n, uids[n]))
        # Messages are numbered in arrival order (UIDs ascend with the numbers).
        self.assertEqual(got_markers, [m for m, _ in sent], 'message order is not arrival order')
        uid_ints = [int(uids[n].split('.')[1]) for n in sorted(uids)]
        self.assertEqual(uid_ints, sorted(uid_ints))
        self.assertEqual(len({uids[n].split('.')[0] for n in uids}), 1, 'UIDVALIDITY differs')
        return uids

    # ---- USER/PASS on loopback -------------------------------------------------------------
    def test_greeting(self):
        with RawPOP3(self.srv.pop3_port) as c:
            self.assertRegex(c.greeting, GREETING_RE)
            assert_ok(c.cmd('QUIT'))
            self.assertTrue(c.wait_closed(), 'connection still open after QUIT')

    def test_user_pass_retr_list_stat_uidl(self):
        addr = acct('retr')
        sent, stored = self.deliver_n(addr, 3)
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        self.check_maildrop(p, sent, stored)
        quit_(p)
        # Retrieving without DELE leaves everything in place.
        self.assertEqual(stored_by_marker(self.srv, addr), stored)

    def test_top(self):
        addr = acct('top')
        body = b'line one\r\nline two\r\n.dotted line three\r\nline four\r\n'
        (marker, msg), = self.deliver_n(addr, 1, body=body)[0]
        stored = stored_by_marker(self.srv, addr)[marker]
        head, sep, stored_body = stored.partition(b'\r\n\r\n')
        self.assertTrue(stored_body.startswith(body))
        body = stored_body
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        for nlines in (0, 1, 3, 100):
            resp, lines, _ = p.top(1, nlines)
            assert_ok(resp)
            got = b''.join(l + b'\r\n' for l in lines)
            want = head + b'\r\n\r\n' + b''.join(
                l + b'\r\n' for l in body.split(b'\r\n')[:-1][:nlines])
            self.assertEqual(got, want, 'TOP 1 %d' % nlines)
        quit_(p)

    def test_dot_stuffing_on_the_wire(self):
        addr = acct('dots')
        body = (b'.starts with a dot\r\n..two dots\r\n.\r\nmiddle . dot\r\n'
                b'...\r\nend\r\n')
        (marker, msg), = self.deliver_n(addr, 1, body=body)[0]
        stored = stored_by_marker(self.srv, addr)[marker]
        self.assertIn(body, stored)
        with RawPOP3(self.srv.pop3_port) as c:
            c.login(addr, DEFAULT_PASSWORD)
            st = c.cmd('RETR 1')
            assert_ok(st)
            wire = b''.join(l + b'\r\n' for l in c.multiline_raw())
            self.assertEqual(wire, dot_stuff(stored),
                             'RETR is not the dot-stuffed stored message')
            # The '.' line inside the message did not end the response early.
            self.assertEqual(c.cmd('NOOP')[:3], '+OK')
            assert_ok(c.cmd('QUIT'))
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        data, _ = retr_bytes(p, 1)
        self.assertEqual(data, stored)
        quit_(p)

    def test_big_message(self):
        addr = acct('big')
        line = b'0123456789abcdefghijklmnopqrstuvwxyz' * 2 + b'\r\n'   # 74 bytes
        body = b'marker-line\r\n' + line * 6000 + b'.\r\n.last\r\n'          # ~440 kB
        (marker, msg), = self.deliver_n(addr, 1, body=body)[0]
        stored = stored_by_marker(self.srv, addr)[marker]
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        self.assertEqual(list_sizes(p), {1: len(stored)})
        data, octets = retr_bytes(p, 1)
        self.assertEqual(len(data), len(stored))
        self.assertEqual(data, stored)
        quit_(p)

    # ---- AUTH PLAIN ------------------------------------------------------------------------
    def test_auth_plain_initial_response(self):
        addr = acct('authplain')
        sent, stored = self.deliver_n(addr, 1)
        with RawPOP3(self.srv.pop3_port) as c:
            assert_ok(c.cmd('AUTH PLAIN ' + auth_plain_b64(addr, DEFAULT_PASSWORD)))
            st = c.cmd('STAT')
            self.assertEqual(st, '+OK 1 %d' % len(stored[sent[0][0]]))
            st, lines = c.multi('RETR 1')
            assert_ok(st)
            self.assertEqual(b''.join(l + b'\r\n' for l in lines), stored[sent[0][0]])
            assert_ok(c.cmd('QUIT'))

    def test_auth_plain_without_initial_response(self):
        addr = acct('authplain2')
        with RawPOP3(self.srv.pop3_port) as c:
            r = c.cmd('AUTH PLAIN')
            self.assertTrue(r == '+ ' or r == '+', 'AUTH PLAIN without response: %r' % r)
            assert_ok(c.cmd(auth_plain_b64(addr, DEFAULT_PASSWORD)))
            self.assertEqual(c.cmd('STAT'), '+OK 0 0')
            assert_ok(c.cmd('QUIT'))
        # With an authorization identity equal to the user it is accepted too.
        with RawPOP3(self.srv.pop3_port) as c:
            assert_ok(c.cmd('AUTH PLAIN ' + auth_plain_b64(addr, DEFAULT_PASSWORD, authzid=addr)))
            assert_ok(c.cmd('QUIT'))

    # ---- TLS -------------------------------------------------------------------------------
    def test_stls_with_poplib(self):
        addr = acct('stls')
        sent, stored = self.deliver_n(addr, 2)
        p = pop(self.srv, addr, DEFAULT_PASSWORD, mode='stls')
        self.assertIsNotNone(p.sock.version() if hasattr(p.sock, 'version') else None,
                             'poplib socket is not TLS after stls()')
        self.check_maildrop(p, sent, stored)
        quit_(p)

    def test_implicit_tls_pop3s(self):
        addr = acct('ssl')
        sent, stored = self.deliver_n(addr, 2)
        p = pop(self.srv, addr, DEFAULT_PASSWORD, mode='ssl')
        self.assertRegex(p.getwelcome().decode(), GREETING_RE)
        self.check_maildrop(p, sent, stored)
        quit_(p)

    def test_pop3s_certificate_is_the_servers(self):
        import ssl
        with RawPOP3(self.srv.pop3s_port, tls=True) as c:
            der = c.sock.getpeercert(binary_form=True)
            assert_ok(c.cmd('QUIT'))
        pem = open(os.path.join(self.srv.data, 'tls', 'cert.pem')).read()
        first = re.search(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', pem, re.S)
        self.assertEqual(der, ssl.PEM_cert_to_DER_cert(first.group(0)))

    # ---- UIDL stability --------------------------------------------------------------------
    def test_uidl_stable_across_sessions_and_devices(self):
        addr = acct('uidl')
        sent, stored = self.deliver_n(addr, 3)
        pw_a = app_password_add(self.srv, addr, 'Phone')
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        first = self.check_maildrop(p, sent, stored)
        quit_(p)
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        self.assertEqual(uidl_map(p), first, 'UIDL changed between two sessions')
        quit_(p)
        p = pop(self.srv, addr, pw_a)
        self.assertEqual(uidl_map(p), first, 'UIDL differs between two devices')
        # The device deletes message 1: its numbers shift, the UIDs of the others do not.
        p.dele(1)
        self.assertEqual(uidl_map(p), {2: first[2], 3: first[3]})
        quit_(p)
        p = pop(self.srv, addr, pw_a)
        self.assertEqual(uidl_map(p), {1: first[2], 2: first[3]})
        quit_(p)
        # A new message gets a new UID, larger than the others.
        deliver(self.srv, addr)
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        now = uidl_map(p)
        quit_(p)
        self.assertEqual({n: now[n] for n in (1, 2, 3)}, first)
        self.assertNotIn(now[4], first.values())
        self.assertGreater(int(now[4].split('.')[1]), int(first[3].split('.')[1]))

    def test_uidl_stable_across_restart(self):
        addr = acct('restart')
        sent, stored = self.deliver_n(addr, 3)
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        before = uidl_map(p)
        sizes = list_sizes(p)
        quit_(p)
        self.srv.restart()
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        self.assertEqual(uidl_map(p), before, 'UIDL changed across a server restart')
        self.assertEqual(list_sizes(p), sizes)
        self.check_maildrop(p, sent, stored)
        quit_(p)

    # ---- DELE / RSET / QUIT ---------------------------------------------------------------
    def test_dele_rset_and_quit(self):
        addr = acct('rset')
        sent, stored = self.deliver_n(addr, 3)
        total = sum(len(m) for m in stored.values())
        size1 = len(stored[sent[0][0]])
        with RawPOP3(self.srv.pop3_port) as c:
            c.login(addr, DEFAULT_PASSWORD)
            assert_ok(c.cmd('DELE 1'))
            self.assertEqual(c.cmd('STAT'), '+OK 2 %d' % (total - size1))
            st, lines = c.multi('LIST')
            assert_ok(st)
            self.assertEqual([l.split()[0] for l in lines], [b'2', b'3'])
            assert_ok(c.cmd('RSET'))
            self.assertEqual(c.cmd('STAT'), '+OK 3 %d' % total)
            assert_ok(c.cmd('DELE 2'))
            # The connection drops without QUIT: nothing is deleted (RFC 1939 UPDATE state).
        with RawPOP3(self.srv.pop3_port) as c:
            c.login(addr, DEFAULT_PASSWORD)
            self.assertEqual(c.cmd('STAT'), '+OK 3 %d' % total)
            assert_ok(c.cmd('DELE 2'))
            assert_ok(c.cmd('QUIT'))
            self.assertTrue(c.wait_closed())
        with RawPOP3(self.srv.pop3_port) as c:
            c.login(addr, DEFAULT_PASSWORD)
            self.assertEqual(c.cmd('STAT'), '+OK 2 %d' % (total - len(stored[sent[1][0]])))
            assert_ok(c.cmd('QUIT'))

    def test_empty_maildrop(self):
        addr = acct('empty')
        with RawPOP3(self.srv.pop3_port) as c:
            c.login(addr, DEFAULT_PASSWORD)
            self.assertEqual(c.cmd('STAT'), '+OK 0 0')
            st, lines = c.multi('LIST')
            assert_ok(st)
            self.assertEqual(lines, [])
            st, lines = c.multi('UIDL')
            assert_ok(st)
            self.assertEqual(lines, [])
            assert_ok(c.cmd('NOOP'))
            assert_ok(c.cmd('QUIT'))

    def test_pipelining(self):
        addr = acct('pipe')
        sent, stored = self.deliver_n(addr, 2)
        with RawPOP3(self.srv.pop3_port) as c:
            self.assertIn('PIPELINING', c.capa())
            # Everything in one write; the replies must come back in order.
            c.send('USER %s\r\nPASS %s\r\nSTAT\r\nRETR 1\r\nLIST 2\r\nNOOP\r\nRETR 2\r\nQUIT\r\n'
                   % (addr, DEFAULT_PASSWORD))
            assert_ok(c.line())
            assert_ok(c.line())
            self.assertEqual(c.line(), '+OK 2 %d' % sum(len(m) for m in stored.values()))
            assert_ok(c.line())
            m1 = b''.join((l[1:] if l.startswith(b'.') else l) + b'\r\n'
                          for l in c.multiline_raw())
            self.assertEqual(m1, stored[sent[0][0]])
            self.assertEqual(c.line(), '+OK 2 %d' % len(stored[sent[1][0]]))
            assert_ok(c.line())
            assert_ok(c.line())
            m2 = b''.join((l[1:] if l.startswith(b'.') else l) + b'\r\n'
                          for l in c.multiline_raw())
            self.assertEqual(m2, stored[sent[1][0]])
            assert_ok(c.line())
            self.assertTrue(c.wait_closed())

    # ---- wire format edge cases ------------------------------------------------------------
    def test_eight_bit_body(self):
        addr = acct('eightbit')
        body = ('Gr\u00fc\u00dfe aus \u6771\u4eac \U0001F4EE\r\n'.encode() +
                b'latin1 \xe9\xe8 raw bytes \xff\x80\r\n')
        (marker, msg), = self.deliver_n(addr, 1, body=body)[0]
        stored = stored_by_marker(self.srv, addr)[marker]
        p = pop(self.srv, addr, DEFAULT_PASSWORD)
        data, _ = retr_bytes(p, 1)
        self.assertEqual(data, stored)
        self.assertEqual(list_sizes(p), {1: len(stored)})
        quit_(p)

    def test_long_lines(self):
        # Lines far longer than poplib accepts (2048): read with the raw client.
        addr = acct('longline')
        body = b'a' * 5000 + b'\r\n.' + b'b' * 20000 + b'\r\nshort\r\n'
        (marker, msg), = self.deliver_n(addr, 1, body=body)[0]
        stored = stored_by_marker(self.srv, addr)[marker]
        with RawPOP3(self.srv.pop3_port) as c:
            c.login(addr, DEFAULT_PASSWORD)
            st, lines = c.multi('RETR 1')
            assert_ok(st)
            self.assertEqual(b''.join(l + b'\r\n' for l in lines), stored)
            st, lines = c.multi('TOP 1 1')
            assert_ok(st)
            head = stored.partition(b'\r\n\r\n')[0]
            self.assertEqual(b''.join(l + b'\r\n' for l in lines),
                             head + b'\r\n\r\n' + b'a' * 5000 + b'\r\n')
            assert_ok(c.cmd('QUIT'))

    def test_pipelined_retr_of_big_messages(self):
        # 20 RETR of ~440 kB sent at once before reading anything: the server must keep the
        # answers whole and in order although the client reads late; plain and over TLS.
        addr = acct('pipebig')
        body = b'x' * 70 + b'\r\n'
        body = body * 6000
        (marker, msg), = self.deliver_n(addr, 1, body=body)[0]
        stored = stored_by_marker(self.srv, addr)[marker]
        for tls in (False, True):
            with self.subTest(tls=tls):
                self.pipelined_retr(addr, stored, tls)

    def pipelined_retr(self, addr, stored, tls):
        port = self.srv.pop3s_port if tls else self.srv.pop3_port
        with RawPOP3(port, tls=tls, timeout=20) as c:
            c.login(addr, DEFAULT_PASSWORD)
            c.send(b'RETR 1\r\n' * 20 + b'NOOP\r\n')
            import time
            time.sleep(1)
            for i in range(20):
                assert_ok(c.line())
                got = b''.join(l + b'\r\n' for l in c.multiline_raw())
                self.assertEqual(got, stored, 'RETR %d of 20 differs' % (i + 1))
            assert_ok(c.line())
            assert_ok(c.cmd('QUIT'))

    def bdat(self, addr, msg):
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<%s>' % SENDER).code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % addr).code, 250)
            c.send(b'BDAT %d LAST\r\n' % len(msg) + msg)
            r = c.reply()
            self.assertEqual(r.code, 250, r)

    def test_stored_bytes_cannot_end_the_response_early(self):
        """Messages taken with BDAT may hold bare CR and may lack a final CRLF.
        On the wire every line must still end in CRLF, every line starting with '.' must be
        stuffed (also after a bare LF), and the response must end with CRLF . CRLF, so nothing
        in a message can pass for the end of the response or a server reply."""
        addr = acct('bdat')
        t1, t2 = token(), token()
        m1 = message(t1) + b'before\n.\r\n+OK injected\r\nafter\n..x\r\nbare\rCR\r\n'
        m2 = message(t2, body=b'marker ' + t2.encode() + b'\r\nno final CRLF')
        self.bdat(addr, m1)
        self.bdat(addr, m2)
        stored = stored_by_marker(self.srv, addr)
        # A bare LF in BDAT content is stored as CRLF (so sizes match what POP3/IMAP send);
        # a bare CR is kept.
        self.assertTrue(stored[t1].endswith(b'before\r\n.\r\n+OK injected\r\nafter\r\n..x\r\n'
                                            b'bare\rCR\r\n'), 'BDAT not stored as expected')
        self.assertTrue(stored[t2].endswith(b'no final CRLF'))
        with RawPOP3(self.srv.pop3_port) as c:
            c.login(addr, DEFAULT_PASSWORD)
            for cmd in ('RETR 1', 'TOP 1 100'):
                assert_ok(c.cmd(cmd))
                wire = c.multiline_raw()
                self.assertIn(b'+OK injected', wire, '%s ended early: %r' % (cmd, wire[-6:]))
                self.assertEqual(wire[-4:], [b'+OK injected', b'after', b'...x', b'bare\rCR'],
                                 cmd)
                self.assertIn(b'..', wire, 'the "." line after a bare LF is not stuffed')
            for cmd in ('RETR 2', 'TOP 2 100'):
                assert_ok(c.cmd(cmd))
                wire = c.multiline_raw()
                self.assertEqual(wire[-1], b'no final CRLF', cmd)
            self.assertEqual(c.cmd('NOOP')[:3], '+OK', 'session out of step after RETR')
            assert_ok(c.cmd('QUIT'))


if __name__ == '__main__':
    unittest.main()
