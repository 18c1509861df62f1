"""Spam settings per account and per domain, per-action choices, yubin spam status and init's
look for a local rspamd, against a real rspamd with clamd (rspamd_common.PrivateRspamd, one per
test class).

- an allowlisted sender's junk (and even GTUBE) lands in INBOX; a virus is still refused;
- a blocklisted sender is refused when every recipient blocks it, and goes to Junk for the
  blockers when another recipient takes the message;
- scanning off for an account (or its domain) delivers GTUBE to INBOX unscanned; a message for
  it and for a scanned account: INBOX for the first, Junk for the second;
- a Junk threshold moves a junk-scored message to INBOX or Junk, the account's over the
  domain's;
- spam-reject-action = junk and spam-add-header-action = inbox;
- yubin spam status: scanning, rspamd's ping and /stat, the counted outcomes;
- yubin init writes rspamd-url when a fake rspamd answers /ping with pong, and says how to
  install one when nothing (or something else) answers.
"""
import http.server
import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import rspamd_common as rc
from harness import BIN, Server, token, yubin

ALICE = 'alice@example.test'
FRIENDLY = 'friendly@example.test'   # allows sam@sender.example and @friends.example
STRICT = 'strict@example.test'       # blocks pest@spam.example
NOFILTER = 'nofilter@example.test'   # scanning off
THRESH = 'thresh@example.test'       # thresholds change during a test
QUIET = 'q@quiet.test'               # its domain has scanning off

ACCOUNTS = [ALICE, FRIENDLY, STRICT, NOFILTER, THRESH]


def with_marker(msg, mk):
    return msg.replace(b'Subject: ', b'Subject: ' + mk.encode() + b' ', 1)


def head(msg):
    return msg.split(b'\r\n\r\n', 1)[0].decode(errors='replace')


class SettingsCase(unittest.TestCase):

    def send(self, msg, rcpts, expect=250, sender='sam@sender.example', srv=None):
        srv = srv or self.srv
        with smtplib.SMTP('127.0.0.1', srv.smtp_port, timeout=60) as s:
            s.ehlo('mx.sender.example')
            s.mail(sender)
            for r in rcpts:
                code, resp = s.rcpt(r)
                self.assertEqual(code, 250, resp)
            code, resp = s.data(msg)
        self.assertEqual(code, expect, resp)
        return resp.decode()

    def where(self, addr, mk, srv=None):
        """'INBOX', 'Junk' or None: where the message with marker mk is (exactly once)."""
        srv = srv or self.srv
        places = []
        for box in (None, 'Junk'):
            found = [m for m in srv.export_maildir(addr, box) if mk.encode() in m]
            places += [(box or 'INBOX', m) for m in found]
        self.assertLessEqual(len(places), 1, places)
        return places[0] if places else (None, None)


def setup_accounts(srv):
    srv.run('account', 'set', FRIENDLY, 'spam-allow', 'sam@sender.example')
    srv.run('account', 'set', FRIENDLY, 'spam-allow', '@friends.example')
    srv.run('account', 'set', STRICT, 'spam-block', 'pest@spam.example')
    srv.run('account', 'set', NOFILTER, 'spam', 'off')
    srv.run('domain', 'add', 'quiet.test')
    srv.add_account(QUIET)
    srv.run('domain', 'set', 'quiet.test', 'spam', 'off')


class TestSpamSettings(rc.RspamdServerCase, SettingsCase):
    RSPAMD = {'clamd': True}
    CONFIG = {'rspamd-timeout': '20'}
    ACCOUNTS = ACCOUNTS
    SETUP = staticmethod(setup_accounts)

    # ---- allowlist -------------------------------------------------------------------
    def test_allowlisted_sender_junk_goes_to_inbox(self):
        mk = token()
        self.send(with_marker(rc.junk_message(), mk), [FRIENDLY, ALICE])
        box, msg = self.where(FRIENDLY, mk)
        self.assertEqual(box, 'INBOX')
        # the headers still say what rspamd thought
        self.assertIn('X-Spam-Status: Yes', head(msg))
        self.assertEqual(self.where(ALICE, mk)[0], 'Junk')

    def test_allowlisted_domain_in_from_field(self):
        mk = token()
        msg = with_marker(rc.junk_message(), mk).replace(
            b'From: Sam Sender <sam@sender.example>', b'From: Fred <fred@Friends.example>')
        self.send(msg, [FRIENDLY], sender='bounces-123@mailer.example')
        self.assertEqual(self.where(FRIENDLY, mk)[0], 'INBOX')
        # the same message from a sender on no list: Junk
        mk = token()
        msg = with_marker(rc.junk_message(), mk).replace(
            b'From: Sam Sender <sam@sender.example>', b'From: Fred <fred@foes.example>')
        self.send(msg, [FRIENDLY], sender='bounces-123@mailer.example')
        self.assertEqual(self.where(FRIENDLY, mk)[0], 'Junk')

    def test_allowlisted_sender_gtube_is_delivered(self):
        mk = token()
        self.send(with_marker(rc.gtube_message(), mk), [FRIENDLY])
        self.assertEqual(self.where(FRIENDLY, mk)[0], 'INBOX')

    def test_virus_refused_for_allowlisted_sender(self):
        mk = token()
        resp = self.send(with_marker(rc.eicar_message(), mk), [FRIENDLY], expect=554)
        self.assertIn(rc.EICAR_SIGNATURE, resp)
        self.assertEqual(self.where(FRIENDLY, mk)[0], None)

    # ---- blocklist -------------------------------------------------------------------
    def test_blocked_sender_is_refused(self):
        mk = token()
        resp = self.send(with_marker(rc.clean_message(), mk), [STRICT], expect=550,
                         sender='pest@spam.example')
        self.assertTrue(resp.startswith('5.7.1'), resp)
        self.assertIn('does not accept mail from this sender', resp)
        self.assertEqual(self.where(STRICT, mk)[0], None)
        self.assertRegex(self.srv.log_text(), r'event=spam-verdict .*outcome=blocked')

    def test_blocked_sender_goes_to_junk_when_another_recipient_takes_it(self):
        mk = token()
        self.send(with_marker(rc.clean_message(), mk), [STRICT, ALICE],
                  sender='pest@spam.example')
        self.assertEqual(self.where(STRICT, mk)[0], 'Junk')
        self.assertEqual(self.where(ALICE, mk)[0], 'INBOX')

    def test_unlisted_sender_reaches_strict_account(self):
        mk = token()
        self.send(with_marker(rc.clean_message(), mk), [STRICT], sender='friend@spam.example')
        self.assertEqual(self.where(STRICT, mk)[0], 'INBOX')

    # ---- scanning off ------------------------------------------------------------------
    def test_scanning_off_delivers_gtube_unscanned(self):
        mk = token()
        self.send(with_marker(rc.gtube_message(), mk), [NOFILTER])
        box, msg = self.where(NOFILTER, mk)
        self.assertEqual(box, 'INBOX')
        self.assertNotIn('X-Spam-Status', head(msg))
        self.assertRegex(self.srv.log_text(), r'event=spam-verdict .*outcome=off')

    def test_scanning_off_and_on_recipients_of_one_message(self):
        # rspamd says reject; ALICE's copy goes to Junk instead of refusing NOFILTER's
        mk = token()
        self.send(with_marker(rc.gtube_message(), mk), [NOFILTER, ALICE])
        self.assertEqual(self.where(NOFILTER, mk)[0], 'INBOX')
        box, msg = self.where(ALICE, mk)
        self.assertEqual(box, 'Junk')
        # one stored copy for both, with what rspamd said
        self.assertIn('X-Spam-Status: Yes', head(msg))
        self.assertIn('action="reject"', head(msg))

    def test_domain_scanning_off_and_account_back_on(self):
        mk = token()
        self.send(with_marker(rc.gtube_message(), mk), [QUIET])
        self.assertEqual(self.where(QUIET, mk)[0], 'INBOX')
        self.srv.run('account', 'set', QUIET, 'spam', 'on')
        try:
            mk = token()
            self.send(with_marker(rc.gtube_message(), mk), [QUIET], expect=550)
            self.assertEqual(self.where(QUIET, mk)[0], None)
        finally:
            self.srv.run('account', 'set', QUIET, 'spam', 'default')

    # ---- threshold -----------------------------------------------------------------------
    def test_threshold_moves_junk(self):
        mk = token()
        self.send(with_marker(rc.junk_message(), mk), [THRESH])
        self.assertEqual(self.where(THRESH, mk)[0], 'Junk')
        self.srv.run('account', 'set', THRESH, 'spam-threshold', '100')
        mk = token()
        self.send(with_marker(rc.junk_message(), mk), [THRESH])
        box, msg = self.where(THRESH, mk)
        self.assertEqual(box, 'INBOX')
        self.assertRegex(head(msg), r'X-Spam-Score: [0-9.]+')
        # the domain's threshold applies when the account has none; the account's wins
        self.srv.run('account', 'set', THRESH, 'spam-threshold', 'default')
        self.srv.run('domain', 'set', 'example.test', 'spam-threshold', '100')
        try:
            mk = token()
            self.send(with_marker(rc.junk_message(), mk), [THRESH])
            self.assertEqual(self.where(THRESH, mk)[0], 'INBOX')
            self.srv.run('account', 'set', THRESH, 'spam-threshold', '1')
            mk = token()
            self.send(with_marker(rc.clean_message(), mk).replace(
                b'Lunch', b'Lunch ' + rc.JUNK_MARKER.encode()), [THRESH])
            self.assertEqual(self.where(THRESH, mk)[0], 'Junk')
        finally:
            self.srv.run('domain', 'set', 'example.test', 'spam-threshold', 'default')
            self.srv.run('account', 'set', THRESH, 'spam-threshold', 'default')

    # ---- the command line --------------------------------------------------------------
    def test_settings_are_shown_and_checked(self):
        out = self.srv.run('account', 'show', FRIENDLY).stdout.decode()
        self.assertIn('spam-list: %s allows @friends.example' % FRIENDLY, out)
        self.assertIn('spam-list: %s allows sam@sender.example' % FRIENDLY, out)
        out = self.srv.run('account', 'show', NOFILTER).stdout.decode()
        self.assertIn('spam: off', out)
        for bad in (['spam', 'maybe'], ['spam-threshold', 'high'], ['spam-threshold', '-1'],
                    ['spam-allow', 'not an address'], ['spam-block', '@']):
            cp = self.srv.run('account', 'set', ALICE, *bad, check=False)
            self.assertEqual(cp.returncode, 2, (bad, cp.stderr))
        cp = self.srv.run('account', 'set', ALICE, 'spam-unlist', 'x@y.example', check=False)
        self.assertEqual(cp.returncode, 1)
        self.assertIn('neither list', cp.stderr.decode())
        cp = self.srv.run('domain', 'set', 'nowhere.test', 'spam', 'off', check=False)
        self.assertEqual(cp.returncode, 1)
        cp = self.srv.run('account', 'set', 'nobody@example.test', 'spam', 'off', check=False)
        self.assertEqual(cp.returncode, 1)
        # taken off a list: the blocked sender gets through
        self.srv.run('account', 'set', ALICE, 'spam-block', 'x@y.example')
        mk = token()
        self.send(with_marker(rc.clean_message(), mk), [ALICE], expect=550, sender='x@y.example')
        self.srv.run('account', 'set', ALICE, 'spam-unlist', 'x@y.example')
        mk = token()
        self.send(with_marker(rc.clean_message(), mk), [ALICE], sender='x@y.example')
        self.assertEqual(self.where(ALICE, mk)[0], 'INBOX')

    def test_spam_status(self):
        self.send(with_marker(rc.gtube_message(), token()), [ALICE], expect=550)
        self.send(with_marker(rc.clean_message(), token()), [ALICE])
        deadline = time.time() + 10
        while True:
            cp = self.srv.run('spam', 'status')
            out = cp.stdout.decode()
            rejected = re.search(r'^  rejected +(\d+) +(\d+)', out, re.M)
            clean = re.search(r'^  clean +(\d+) +(\d+)', out, re.M)
            if (rejected and int(rejected.group(2)) >= 1 and clean and
                    int(clean.group(2)) >= 1) or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(cp.returncode, 0, out)
        self.assertIn('scanning: on (rspamd-url = %s' % self.rs.url, out)
        self.assertIn('rspamd: answering at %s (ping: pong)' % self.rs.url, out)
        self.assertRegex(out, r'rspamd controller: %s: [1-9]\d* scanned since rspamd started'
                         % re.escape(self.rs.controller_url))
        self.assertGreaterEqual(int(rejected.group(1)), 1, out)
        self.assertGreaterEqual(int(clean.group(1)), 1, out)
        self.assertIn('account %s: spam off' % NOFILTER, out)
        self.assertIn('domain quiet.test: spam off', out)
        self.assertIn('%s blocks pest@spam.example' % STRICT, out)
        # the counts survive a restart: they are in the store
        before = out
        self.srv.restart()
        out = self.srv.run('spam', 'status').stdout.decode()
        self.assertEqual(re.search(r'^  rejected .*$', out, re.M).group(0),
                         re.search(r'^  rejected .*$', before, re.M).group(0))


class TestActionChoices(rc.RspamdServerCase, SettingsCase):
    """spam-reject-action = junk, spam-add-header-action = inbox."""
    CONFIG = {'rspamd-timeout': '20', 'spam-reject-action': 'junk',
              'spam-add-header-action': 'inbox'}
    ACCOUNTS = [ALICE]

    def test_gtube_goes_to_junk(self):
        mk = token()
        self.send(with_marker(rc.gtube_message(), mk), [ALICE])
        box, msg = self.where(ALICE, mk)
        self.assertEqual(box, 'Junk')
        self.assertIn('X-Spam-Status: Yes', head(msg))
        self.assertIn('action="reject"', head(msg))

    def test_add_header_goes_to_inbox(self):
        mk = token()
        self.send(with_marker(rc.junk_message(), mk), [ALICE])
        box, msg = self.where(ALICE, mk)
        self.assertEqual(box, 'INBOX')
        self.assertIn('X-Spam-Status: Yes', head(msg))
        self.assertIn('YUBIN_TEST_JUNK', head(msg))

    def test_bad_choice_is_refused(self):
        conf = os.path.join(self.srv.data, 'yubin.conf')
        tmp = tempfile.mkdtemp(prefix='yubin-conf-')
        try:
            shutil.copy(conf, os.path.join(tmp, 'yubin.conf'))
            with open(os.path.join(tmp, 'yubin.conf'), 'a') as f:
                f.write('spam-greylist-action = drop\n')
            cp = yubin('spam', 'status', '--data', tmp)
            self.assertNotEqual(cp.returncode, 0)
            self.assertIn('spam-greylist-action must be one of tempfail|inbox', cp.stderr.decode())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# ---- yubin init's look for a local rspamd, and status without one ----------------------

class FakeRspamd:
    """An HTTP server on loopback answering GET /ping with `ping_answer` (status 200)."""

    def __init__(self, ping_answer=b'pong\r\n', status=200):
        answer, code = ping_answer, status

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = answer if self.path == '/ping' else b'{"error":"not found"}'
                self.send_response(code if self.path == '/ping' else 404)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.HTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return 'http://127.0.0.1:%d' % port


class TestInitFindsRspamd(unittest.TestCase):

    def init(self, probe_url):
        parent = tempfile.mkdtemp(prefix='yubin-init-')
        self.addCleanup(shutil.rmtree, parent, True)
        data = os.path.join(parent, 'd')
        env = dict(os.environ, YUBIN_RSPAMD_PROBE_URL=probe_url)
        t0 = time.time()
        cp = subprocess.run([BIN, 'init', '--data', data, '--domain', 'example.test',
                             '--port-offset', '30000'], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        took = time.time() - t0
        self.assertEqual(cp.returncode, 0, cp.stderr)
        with open(os.path.join(data, 'yubin.conf')) as f:
            conf = f.read()
        return cp.stdout.decode(), conf, took, data

    def test_found(self):
        fake = FakeRspamd()
        self.addCleanup(fake.close)
        out, conf, _, data = self.init(fake.url)
        self.assertIn('Found rspamd at %s' % fake.url, out)
        self.assertRegex(conf, r'(?m)^rspamd-url = %s$' % re.escape(fake.url))
        # and the server's spam status says scanning is on and rspamd answers
        cp = yubin('spam', 'status', '--data', data)
        self.assertIn('scanning: on', cp.stdout.decode())
        self.assertIn('rspamd: answering at %s (ping: pong)' % fake.url, cp.stdout.decode())
        # the fake has no controller on 11334 of its address: said, not fatal
        self.assertIn('rspamd controller: not reachable', cp.stdout.decode())

    def test_nothing_there(self):
        out, conf, took, data = self.init(closed_port_url())
        self.assertLess(took, 30)
        self.assertIn('No rspamd answered', out)
        self.assertIn('apt-get install rspamd clamav-daemon', out)
        self.assertNotRegex(conf, r'(?m)^rspamd-url = .')
        cp = yubin('spam', 'status', '--data', data)
        self.assertEqual(cp.returncode, 0)
        self.assertIn('scanning: off', cp.stdout.decode())

    def test_something_else_answers(self):
        fake = FakeRspamd(ping_answer=b'<html>hello</html>')
        self.addCleanup(fake.close)
        out, conf, _, _ = self.init(fake.url)
        self.assertIn('No rspamd answered', out)
        self.assertNotRegex(conf, r'(?m)^rspamd-url = .')

    def test_status_when_rspamd_is_down(self):
        out, conf, _, data = self.init('')
        with open(os.path.join(data, 'yubin.conf'), 'a') as f:
            f.write('rspamd-url = %s\n' % closed_port_url())
        cp = yubin('spam', 'status', '--data', data)
        self.assertEqual(cp.returncode, 1, cp.stdout)
        self.assertIn('rspamd: NOT ANSWERING', cp.stdout.decode())


if __name__ == '__main__':
    unittest.main()
