"""Spam and virus scanning at the end of DATA through a real rspamd (with a real clamd), started
by the test (rspamd_common.PrivateRspamd): GTUBE is refused with 550 5.7.1, EICAR with 554 5.7.1
naming the virus, junk lands in the Junk mailbox with the X-Spam headers and $Junk, clean mail
in INBOX with its score; a sender's own X-Spam-Status is removed. rspamd down or silent: the
message is still delivered (X-Spam-Status: unscanned) within rspamd-timeout, or answered 451
with spam-unavailable = tempfail."""
import imaplib
import smtplib
import socket
import threading
import time
import unittest

import rspamd_common as rc
from harness import DEFAULT_PASSWORD, Server, token

ALICE = 'alice@example.test'


def with_marker(msg, mk):
    """rspamd_common's messages, with a marker in the Subject to find them by."""
    return msg.replace(b'Subject: ', b'Subject: ' + mk.encode() + b' ', 1)


class ScanCase(unittest.TestCase):
    CONFIG = {}

    def send(self, msg, expect=250, sender='sam@sender.example'):
        with smtplib.SMTP('127.0.0.1', self.srv.smtp_port, timeout=60) as s:
            s.ehlo('mx.sender.example')
            s.mail(sender)
            s.rcpt(ALICE)
            code, resp = s.data(msg)
        self.assertEqual(code, expect, resp)
        return resp.decode()

    def stored(self, mk, mailbox=None):
        found = [m for m in self.srv.export_maildir(ALICE, mailbox) if mk.encode() in m]
        self.assertEqual(len(found), 1, '%s in %s' % (mk, mailbox or 'INBOX'))
        return found[0]

    @staticmethod
    def head(msg):
        return msg.split(b'\r\n\r\n', 1)[0].decode(errors='replace')


class TestScanWithRspamd(rc.RspamdServerCase, ScanCase):
    RSPAMD = {'clamd': True}
    CONFIG = {'rspamd-timeout': '20'}
    ACCOUNTS = [ALICE]

    def test_gtube_is_refused(self):
        mk = token()
        resp = self.send(with_marker(rc.gtube_message(), mk), expect=550)
        self.assertTrue(resp.startswith('5.7.1'), resp)
        self.assertEqual(self.srv.find(ALICE, mk), [])
        self.assertRegex(self.srv.log_text(), r'event=spam-scan .*what=spam')

    def test_virus_is_refused_naming_it(self):
        mk = token()
        resp = self.send(with_marker(rc.eicar_message(), mk), expect=554)
        self.assertTrue(resp.startswith('5.7.1'), resp)
        self.assertIn(rc.EICAR_SIGNATURE, resp)
        self.assertEqual(self.srv.find(ALICE, mk), [])

    def test_junk_goes_to_junk_with_headers(self):
        mk = token()
        self.send(with_marker(rc.junk_message(), mk))
        head = self.head(self.stored(mk, 'Junk'))
        self.assertIn('X-Spam-Status: Yes', head)
        self.assertRegex(head, r'X-Spam-Score: [0-9.]+')
        self.assertIn('YUBIN_TEST_JUNK', head)
        self.assertEqual(self.srv.find(ALICE, mk), [])
        im = imaplib.IMAP4('127.0.0.1', self.srv.imap_port)
        try:
            im.login(ALICE, DEFAULT_PASSWORD)
            im.select('Junk', readonly=True)
            typ, data = im.search(None, 'KEYWORD', '$Junk', 'SUBJECT', mk)
            self.assertEqual(len(data[0].split()), 1, data)
        finally:
            im.logout()

    def test_clean_goes_to_inbox_with_its_score(self):
        mk = token()
        self.send(with_marker(rc.clean_message(), mk))
        head = self.head(self.stored(mk))
        self.assertIn('X-Spam-Status: No', head)
        self.assertRegex(head, r'X-Spam-Score: -?[0-9.]+')

    def test_senders_own_spam_headers_are_removed(self):
        mk = token()
        msg = with_marker(rc.junk_message(), mk).replace(
            b'MIME-Version:', b'X-Spam-Status: No, trust me\r\nX-Spam-Score: -100\r\nMIME-Version:')
        self.send(msg)
        head = self.head(self.stored(mk, 'Junk'))
        self.assertNotIn('trust me', head)
        self.assertNotIn('-100', head)
        self.assertEqual(head.count('X-Spam-Status:'), 1, head)


def silent_server():
    """A TCP server that accepts and never answers (a hung filter)."""
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen(64)
    conns = []

    def run():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            conns.append(c)
    threading.Thread(target=run, daemon=True).start()
    return s, conns


def closed_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SilentCase(ScanCase):
    """A server whose rspamd-url leads nowhere useful; a silent TCP server at hand."""

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.__exit__(None, None, None)
        finally:
            cls.silent.close()
            for c in cls.conns:
                c.close()


class TestRspamdDown(SilentCase):
    CONFIG = {}

    @classmethod
    def setUpClass(cls):
        cls.silent, cls.conns = silent_server()
        config = {'rspamd-url': 'http://127.0.0.1:%d' % closed_port(), 'rspamd-timeout': '1'}
        config.update(cls.CONFIG)
        cls.srv = Server(config=config, accounts=[ALICE])
        cls.srv.__enter__()

    def test_unreachable_filter_still_delivers(self):
        mk = token()
        t0 = time.time()
        self.send(with_marker(rc.clean_message(), mk))
        self.assertLess(time.time() - t0, 5)
        self.assertIn('X-Spam-Status: unscanned', self.head(self.stored(mk)))
        self.assertRegex(self.srv.log_text(), r'event=spam-scan .*what=unscanned')


class TestRspamdSilent(SilentCase):

    @classmethod
    def setUpClass(cls):
        cls.silent, cls.conns = silent_server()
        cls.srv = Server(config={'rspamd-url': 'http://127.0.0.1:%d' % cls.silent.getsockname()[1],
                                 'rspamd-timeout': '1'}, accounts=[ALICE])
        cls.srv.__enter__()

    def test_silent_filter_times_out_and_delivers(self):
        mk = token()
        t0 = time.time()
        self.send(with_marker(rc.clean_message(), mk))
        took = time.time() - t0
        self.assertGreater(took, 0.8)
        self.assertLess(took, 5)
        self.assertIn('X-Spam-Status: unscanned', self.head(self.stored(mk)))


class TestRspamdDownTempfail(TestRspamdDown):
    CONFIG = {'spam-unavailable': 'tempfail'}

    def test_unreachable_filter_still_delivers(self):
        mk = token()
        resp = self.send(with_marker(rc.clean_message(), mk), expect=451)
        self.assertTrue(resp.startswith('4.7.1'), resp)
        self.assertEqual(self.srv.find(ALICE, mk), [])


if __name__ == '__main__':
    unittest.main()
