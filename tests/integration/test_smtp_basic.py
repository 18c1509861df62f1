"""Receive mail over SMTP with real clients (smtplib, raw sockets) and check what is stored."""

import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HOSTNAME, RawSMTP, ServerTestCase, assert_serves, assert_stored,  # noqa: E402
                     client_tls_context, dot_stuff, message, send_raw_data, token)

ALICE = 'alice@example.test'
BOB = 'bob@example.test'
UTF8_USER = 'jos\u00e9@example.test'


class SmtpBasic(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE, BOB, UTF8_USER])

    def smtp(self):
        s = smtplib.SMTP('127.0.0.1', self.srv.smtp_port, local_hostname='client.remote.test',
                         timeout=10)
        self.addCleanup(s.close)
        return s

    def test_greeting_and_ehlo_extensions(self):
        with RawSMTP(self.srv.smtp_port) as c:
            self.assertEqual(c.greeting.code, 220, c.greeting)
            self.assertIn(HOSTNAME, c.greeting.lines[0])
            r = c.ehlo()
            self.assertIn(HOSTNAME, r.lines[0])
            for ext in ('PIPELINING', '8BITMIME', 'SMTPUTF8', 'CHUNKING', 'STARTTLS',
                        'ENHANCEDSTATUSCODES'):
                self.assertTrue(c.has_ext(ext), 'EHLO does not advertise %s: %r' % (ext, r))
            size = [e for e in c.extensions if e.startswith('SIZE')]
            self.assertEqual(size, ['SIZE 26214400'], r)
            self.assertEqual(c.cmd('QUIT').code, 221)

    def test_helo_still_works(self):
        with RawSMTP(self.srv.smtp_port) as c:
            r = c.cmd('HELO client.remote.test')
            self.assertEqual(r.code, 250, r)
            t = token()
            msg = message(t)
            r = send_raw_data(c, 'old@remote.test', [ALICE], msg)
            self.assertEqual(r.code, 250, r)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'old@remote.test', msg)

    def test_plain_smtplib_send(self):
        t = token()
        msg = message(t)
        s = self.smtp()
        s.ehlo()
        refused = s.sendmail('sender@remote.test', [ALICE], msg)
        self.assertEqual(refused, {})
        s.quit()
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1, 'expected exactly one stored copy')
        assert_stored(found[0], 'sender@remote.test', msg)

    def test_accepted_reply_is_250_2_0_0(self):
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            r = send_raw_data(c, 'sender@remote.test', [ALICE], message(token()))
            self.assertEqual(r.code, 250, r)
            self.assertEqual(r.enhanced, '2.0.0', r)

    def test_two_recipients_each_get_a_copy(self):
        t = token()
        msg = message(t, to=BOB)
        s = self.smtp()
        self.assertEqual(s.sendmail('sender@remote.test', [ALICE, BOB], msg), {})
        s.quit()
        for rcpt in (ALICE, BOB):
            found = self.srv.find(rcpt, t)
            self.assertEqual(len(found), 1, rcpt)
            assert_stored(found[0], 'sender@remote.test', msg)

    def test_null_sender_accepted(self):
        # Bounces (DSNs) come with MAIL FROM:<>; refusing them loses mail.
        t = token()
        msg = message(t, sender='MAILER-DAEMON@remote.test')
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            r = send_raw_data(c, '', [ALICE], msg)
            self.assertEqual(r.code, 250, r)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], '', msg)

    def test_several_messages_one_session(self):
        ts = [token() for _ in range(3)]
        s = self.smtp()
        for t in ts:
            self.assertEqual(s.sendmail('sender@remote.test', [BOB], message(t)), {})
        s.quit()
        for t in ts:
            found = self.srv.find(BOB, t)
            self.assertEqual(len(found), 1)
            assert_stored(found[0], 'sender@remote.test', message(t))

    def test_rset_forgets_transaction(self):
        t = token()
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<a@remote.test>').code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % BOB).code, 250)
            self.assertEqual(c.cmd('RSET').code, 250)
            self.assertEqual(c.cmd('MAIL FROM:<b@remote.test>').code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
            self.assertEqual(c.cmd('DATA').code, 354)
            c.send(message(t) + b'.\r\n')
            self.assertEqual(c.reply().code, 250)
        self.assertEqual(self.srv.find(BOB, t), [], 'RSET recipient got the message')
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'b@remote.test', message(t))

    def test_dot_unstuffing(self):
        t = token()
        # Lines as they travel on the wire (already dot-stuffed where the client would).
        wire_body = (b'first line\r\n'
                     b'..\r\n'            # a line "." in the message
                     b'...\r\n'           # a line ".."
                     b'..x leading dot\r\n'
                     b'.y not stuffed by the client\r\n'
                     b'x.\r\n'
                     b' .\r\n'
                     b'marker ' + t.encode() + b'\r\n')
        expected_body = (b'first line\r\n'
                         b'.\r\n'
                         b'..\r\n'
                         b'.x leading dot\r\n'
                         b'y not stuffed by the client\r\n'
                         b'x.\r\n'
                         b' .\r\n'
                         b'marker ' + t.encode() + b'\r\n')
        head = message(t, body=b'')
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<s@remote.test>').code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
            self.assertEqual(c.cmd('DATA').code, 354)
            c.send(head + wire_body + b'.\r\n')
            r = c.reply()
            self.assertEqual(r.code, 250, r)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 's@remote.test', head + expected_body)

    def test_trailing_empty_line_kept(self):
        # A body whose last line is empty ("...\r\n\r\n.\r\n" on the wire) stays byte-exact.
        t = token()
        msg = message(t, body=b'marker ' + t.encode() + b'\r\n\r\n')
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            r = send_raw_data(c, 's@remote.test', [ALICE], msg)
            self.assertEqual(r.code, 250, r)
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 's@remote.test', msg)

    def test_8bitmime_body_byte_exact(self):
        t = token()
        eight = bytes(b for b in range(0x80, 0x100))
        body = (b'Caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\r\n'
                b'latin1: \xe9\xe8\xe0\r\n' + eight[:64] + b'\r\n' + eight[64:] + b'\r\n'
                b'marker ' + t.encode() + b'\r\n')
        msg = message(t, body=body,
                      extra_headers=b'MIME-Version: 1.0\r\n'
                                    b'Content-Type: text/plain; charset=utf-8\r\n'
                                    b'Content-Transfer-Encoding: 8bit\r\n')
        s = self.smtp()
        s.ehlo()
        self.assertTrue(s.has_extn('8bitmime'))
        self.assertEqual(s.sendmail('sender@remote.test', [ALICE], msg,
                                    mail_options=['BODY=8BITMIME']), {})
        s.quit()
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'sender@remote.test', msg)

    def test_smtputf8(self):
        t = token()
        sender = 'j\u00f6rg@remote.test'
        msg = ('From: J\u00f6rg <' + sender + '>\r\n'
               'To: Jos\u00e9 <' + UTF8_USER + '>\r\n'
               'Subject: Gr\u00fc\u00dfe \u65e5\u672c ' + t + '\r\n'
               'MIME-Version: 1.0\r\n'
               'Content-Type: text/plain; charset=utf-8\r\n'
               '\r\n'
               'Hallo Jos\u00e9, \u3053\u3093\u306b\u3061\u306f\r\n').encode('utf-8')
        s = self.smtp()
        s.ehlo()
        self.assertTrue(s.has_extn('smtputf8'), 'SMTPUTF8 not advertised')
        self.assertEqual(s.sendmail(sender, [UTF8_USER], msg,
                                    mail_options=['SMTPUTF8', 'BODY=8BITMIME']), {})
        s.quit()
        found = self.srv.find(UTF8_USER, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], sender.encode('utf-8'), msg)

    def test_utf8_address_without_smtputf8_refused(self):
        # RFC 6531 3.4: a non-ASCII address without the SMTPUTF8 parameter must be refused.
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            r = c.cmd('MAIL FROM:<s@remote.test>')
            self.assertEqual(r.code, 250, r)
            r = c.cmd(('RCPT TO:<%s>' % UTF8_USER).encode('utf-8'))
            self.assertTrue(500 <= r.code < 600, 'UTF-8 RCPT without SMTPUTF8 got %r' % r)
        assert_serves(self, self.srv)

    def test_starttls(self):
        t = token()
        msg = message(t)
        s = self.smtp()
        s.ehlo()
        self.assertTrue(s.has_extn('starttls'))
        code, text = s.starttls(context=client_tls_context())
        self.assertEqual(code, 220)
        self.assertTrue(text.startswith(b'2.0.0'), text)
        version, cipher = s.sock.version(), s.sock.cipher()[0]
        s.ehlo()
        self.assertFalse(s.has_extn('starttls'), 'STARTTLS advertised again inside TLS')
        self.assertEqual(s.sendmail('sender@remote.test', [ALICE], msg), {})
        s.quit()
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        received = assert_stored(found[0], 'sender@remote.test', msg)
        self.assertIn(version, received, 'Received header does not mention the TLS version')
        self.assertIn(cipher, received, 'Received header does not mention the cipher')
        # RFC 3848: the protocol of a TLS session is ESMTPS.
        self.assertRegex(received, r'\bwith ESMTPS\b')

    def test_starttls_discards_plaintext_pipelined_after_it(self):
        # CVE-2011-0411 class: commands sent in plaintext together with STARTTLS must not be
        # executed inside the TLS session.
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            c.send(b'STARTTLS\r\nFOO-INJECTED\r\n')
            r = c.reply()
            self.assertEqual(r.code, 220, r)
            # yubin's defence is to discard the pipelined bytes, so the handshake must work
            # and the first reply inside TLS must be the one to our EHLO, not to FOO-INJECTED.
            c.sock = client_tls_context().wrap_socket(c.sock, server_hostname=HOSTNAME)
            c.buf = b''
            r = c.cmd('EHLO client.remote.test')
            self.assertEqual(r.code, 250, 'injected plaintext command was executed '
                                          'inside TLS: first reply %r' % r)
        assert_serves(self, self.srv)

    def test_starttls_resets_transaction(self):
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<a@remote.test>').code, 250)
            c.starttls()
            c.ehlo()
            r = c.cmd('RCPT TO:<%s>' % ALICE)
            self.assertEqual(r.code, 503, 'MAIL from before STARTTLS survived: %r' % r)

    def test_domain_is_case_insensitive(self):
        t = token()
        msg = message(t)
        s = self.smtp()
        self.assertEqual(s.sendmail('sender@remote.test', ['alice@Example.TEST'], msg), {})
        s.quit()
        found = self.srv.find(ALICE, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'sender@remote.test', msg)

    def test_abrupt_disconnects_do_not_hurt(self):
        t = token()
        # Connect and vanish; vanish in the middle of DATA; the server must keep serving and
        # must not store the half message.
        with RawSMTP(self.srv.smtp_port, greet=False):
            pass
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<a@remote.test>').code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
            self.assertEqual(c.cmd('DATA').code, 354)
            c.send(b'Subject: half ' + t.encode() + b'\r\n\r\nnot finished\r\n')
        import time
        time.sleep(0.3)
        assert_serves(self, self.srv)
        self.assertEqual(self.srv.find(ALICE, t), [], 'half message stored')


    def test_greeting_and_helo_reply_start_with_hostname(self):
        # RFC 5321 4.2 / 4.1.1.1: "220 SP Domain [SP text]" and "250 SP Domain [SP text]";
        # RFC 2034 3: no enhanced status code in the greeting or the HELO/EHLO reply.
        with RawSMTP(self.srv.smtp_port) as c:
            self.assertEqual(c.greeting.lines[0].split(' ')[0], HOSTNAME,
                             'greeting does not start with the host name: %r' % c.greeting)
            r = c.cmd('HELO client.remote.test')
            self.assertEqual(r.lines[0].split(' ')[0], HOSTNAME,
                             'HELO reply does not start with the host name: %r' % r)

    def test_empty_message(self):
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<empty@remote.test>').code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % BOB).code, 250)
            self.assertEqual(c.cmd('DATA').code, 354)
            c.send(b'.\r\n')
            r = c.reply()
            self.assertEqual(r.code, 250, r)
        found = [m for m in self.srv.export_maildir(BOB) if b'<empty@remote.test>' in m[:40]]
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'empty@remote.test', b'')

    def test_large_message_byte_exact(self):
        # 5 MB with long (but allowed) lines: exercises buffer boundaries everywhere.
        t = token()
        import random
        rnd = random.Random(7)
        lines = []
        size = 0
        while size < 5 * 1024 * 1024:
            n = rnd.choice((0, 1, 2, 76, 998, 5000, 60000))
            line = bytes(rnd.choice(b'abcdefghijklmnopqrstuvwxyz .\xc3\xa9') for _ in range(min(n, 64)))
            line = (line * (n // max(len(line), 1) + 1))[:n]
            lines.append(line)
            size += n + 2
        msg = message(t, body=b'\r\n'.join(lines) + b'\r\nmarker ' + t.encode() + b'\r\n')
        with RawSMTP(self.srv.smtp_port, timeout=30) as c:
            c.ehlo()
            r = send_raw_data(c, 'big@remote.test', [BOB], msg)
            self.assertEqual(r.code, 250, r)
        found = self.srv.find(BOB, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 'big@remote.test', msg)

    def test_same_recipient_twice_one_copy(self):
        t = token()
        msg = message(t)
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('MAIL FROM:<s@remote.test>').code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % BOB).code, 250)
            self.assertEqual(c.cmd('RCPT TO:<%s>' % BOB.upper()).code, 250)
            self.assertEqual(c.cmd('DATA').code, 354)
            c.send(dot_stuff(msg) + b'.\r\n')
            self.assertEqual(c.reply().code, 250)
        self.assertEqual(len(self.srv.find(BOB, t)), 1, 'duplicate recipient got two copies')

    def test_long_helo_name_keeps_received_lines_short(self):
        t = token()
        name = ('a' * 60 + '.') * 16 + 'remote.test'     # ~990 bytes, a valid domain syntax
        with RawSMTP(self.srv.smtp_port) as c:
            r = c.cmd('EHLO ' + name)
            if r.code != 250:
                self.assertEqual(r.code, 501, r)   # refusing an over-long name is fine
                return
            r = send_raw_data(c, 's@remote.test', [BOB], message(t))
            self.assertEqual(r.code, 250, r)
        found = self.srv.find(BOB, t)
        self.assertEqual(len(found), 1)
        assert_stored(found[0], 's@remote.test', message(t))   # checks lines <= 998 bytes

    def test_starttls_twice_and_with_argument(self):
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            r = c.cmd('STARTTLS now')
            self.assertEqual(r.code, 501, r)
            c.starttls()
            c.ehlo()
            r = c.cmd('STARTTLS')
            self.assertEqual((r.code, r.enhanced), (503, '5.5.1'), r)
            self.assertEqual(c.cmd('NOOP').code, 250)

    def test_garbage_instead_of_tls_handshake(self):
        import socket
        with RawSMTP(self.srv.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd('STARTTLS').code, 220)
            c.send(b'this is not a TLS ClientHello\r\n' * 10)
            c.sock.settimeout(5)
            try:
                while c.sock.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
        assert_serves(self, self.srv)

if __name__ == '__main__':
    unittest.main()
