"""Postfix (a private instance on loopback) relays mail for example.test into yubin.

The instance has its own config, queue and log under a temp dir; it has no SMTP listener at
all (mail is injected with its sendmail) and its only way out is smtp:[127.0.0.1]:<yubin port>.
The system Postfix instance is never touched."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, split_stored, token, unfold  # noqa: E402

ALICE = 'alice@example.test'
BOB = 'bob@example.test'
SENDER = 'sender@remote.test'


def ensure_postfix():
    if shutil.which('postfix') or os.path.exists('/usr/sbin/postfix'):
        return True
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    subprocess.run(['debconf-set-selections'], input=b'postfix postfix/main_mailer_type select '
                   b'No configuration\n', env=env, timeout=60)
    for args in (['apt-get', 'update', '-q'], ['apt-get', 'install', '-y', '-q', 'postfix']):
        subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=900)
    if not os.path.exists('/usr/sbin/postfix'):
        return False
    # The package may have started the system instance just now; it was not running before.
    if os.path.exists('/etc/postfix/main.cf'):
        subprocess.run(['/usr/sbin/postfix', 'stop'], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    return True


class PostfixInstance:
    def __init__(self, relay_port):
        self.dir = tempfile.mkdtemp(prefix='yubin-postfix-')
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, 'conf')
        self.queue = os.path.join(self.dir, 'queue')
        self.data = os.path.join(self.dir, 'data')
        self.logdir = os.path.join(self.dir, 'log')
        for d in (self.conf, self.queue, self.data, self.logdir):
            os.mkdir(d)
            os.chmod(d, 0o755)
        shutil.chown(self.data, 'postfix', 'postfix')
        self.log = os.path.join(self.logdir, 'postfix.log')
        with open(os.path.join(self.conf, 'transport'), 'w') as f:
            f.write('example.test smtp:[127.0.0.1]:%d\n' % relay_port)
        main = {
            'compatibility_level': '3.6',
            'myhostname': 'mx.remote.test',
            'mydomain': 'remote.test',
            'myorigin': 'remote.test',
            'mydestination': '',
            'inet_interfaces': '127.0.0.1',
            'inet_protocols': 'ipv4',
            'mynetworks': '127.0.0.0/8',
            'queue_directory': self.queue,
            'data_directory': self.data,
            'maillog_file': self.log,
            'maillog_file_prefixes': self.logdir,
            'relay_domains': 'example.test',
            'transport_maps': 'texthash:' + os.path.join(self.conf, 'transport'),
            'default_transport': 'error:no mail leaves this test machine',
            'relay_transport': 'error:no mail leaves this test machine',
            'smtp_dns_support_level': 'disabled',
            'smtp_host_lookup': 'native',
            'smtpd_peername_lookup': 'no',
            'smtp_tls_security_level': 'may',
            'smtputf8_enable': 'yes',
            'alias_maps': '',
            'alias_database': '',
            'local_recipient_maps': '',
            'biff': 'no',
        }
        with open(os.path.join(self.conf, 'main.cf'), 'w') as f:
            for k, v in main.items():
                f.write('%s = %s\n' % (k, v))
        shutil.copy('/etc/postfix/master.cf' if os.path.exists('/etc/postfix/master.cf')
                    else '/usr/share/postfix/master.cf.dist', os.path.join(self.conf, 'master.cf'))
        self.postconf('-MX', 'smtp/inet')             # no listener: we inject with sendmail
        self.postconf('-F', '*/*/chroot = n')

    def postconf(self, *args):
        cp = subprocess.run(['postconf', '-c', self.conf, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=30)
        if cp.returncode != 0:
            raise AssertionError('postconf %s: %s' % (args, cp.stdout.decode()))

    def start(self):
        cp = subprocess.run(['postfix', '-c', self.conf, 'start'], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=60)
        if cp.returncode != 0:
            raise AssertionError('postfix start failed: %s\n%s' % (cp.stdout.decode(),
                                                                   self.log_text()))

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, 'pid', 'master.pid')) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def stop(self):
        pid = self.master_pid()
        subprocess.run(['postfix', '-c', self.conf, 'stop'], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        deadline = time.monotonic() + 10
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
        else:
            if pid:
                try:
                    os.kill(pid, 9)  # our own instance's master, by its PID
                except OSError:
                    pass

    def sendmail(self, msg):
        cp = subprocess.run(['sendmail', '-C', self.conf, '-f', SENDER, '-t'], input=msg,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        if cp.returncode != 0:
            raise AssertionError('sendmail failed: %s' % cp.stdout.decode())

    def log_text(self):
        try:
            with open(self.log, errors='replace') as f:
                return f.read()
        except OSError:
            return '(no postfix log)'

    def cleanup(self):
        if not os.environ.get('YUBIN_KEEP'):
            shutil.rmtree(self.dir, ignore_errors=True)


class PostfixInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not ensure_postfix():
            raise AssertionError('postfix is not installed and apt-get install postfix failed')

    def test_postfix_relays_three_messages_into_yubin(self):
        with Server(accounts=[ALICE, BOB]) as srv:
            pf = PostfixInstance(srv.smtp_port)
            self.addCleanup(pf.cleanup)
            pf.start()
            try:
                self.relay_three(srv, pf)
            finally:
                pf.stop()
            srv.check()

    def relay_three(self, srv, pf):
        marks = [token() for _ in range(3)]
        bodies = [
            b'First message through Postfix.\r\nmarker ' + marks[0].encode() + b'\r\n',
            ('Zweite Nachricht: Gr\u00fc\u00dfe, \u65e5\u672c\u8a9e\r\nmarker ' + marks[1]
             + '\r\n').encode('utf-8'),
            b'Third message, two recipients.\r\n..\r\n.leading dot\r\nmarker '
            + marks[2].encode() + b'\r\n',
        ]
        tos = [ALICE, BOB, ALICE + ', ' + BOB]
        for m, body, to in zip(marks, bodies, tos):
            msg = (b'From: Sender <' + SENDER.encode() + b'>\r\n'
                   b'To: ' + to.encode() + b'\r\n'
                   b'Subject: via postfix ' + m.encode() + b'\r\n'
                   b'Message-ID: <' + m.encode() + b'@remote.test>\r\n'
                   b'Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n'
                   b'MIME-Version: 1.0\r\n'
                   b'Content-Type: text/plain; charset=utf-8\r\n'
                   b'Content-Transfer-Encoding: 8bit\r\n'
                   b'\r\n' + body)
            pf.sendmail(msg.replace(b'\r\n', b'\n'))  # sendmail takes local (LF) text
        expected = {ALICE: [0, 2], BOB: [1, 2]}
        deadline = time.monotonic() + 30
        while True:
            got = {a: {i: srv.find(a, marks[i]) for i in idx} for a, idx in expected.items()}
            if all(len(v) >= 1 for d in got.values() for v in d.values()):
                break
            if time.monotonic() > deadline:
                self.fail('not all messages arrived within 30 s: %s\n--- postfix log ---\n%s\n'
                          '--- yubin log ---\n%s' % (
                              {a: {i: len(v) for i, v in d.items()} for a, d in got.items()},
                              pf.log_text()[-4000:], srv.log_tail()))
            time.sleep(0.5)
        for a, d in got.items():
            for i, found in d.items():
                self.assertEqual(len(found), 1, '%s has %d copies of message %d'
                                 % (a, len(found), i))
                rp, received, rest = split_stored(found[0])
                self.assertEqual(rp, SENDER.encode())
                rec = unfold(received)
                self.assertIn('by mail.example.test', rec)
                self.assertRegex(rec, r'TLSv1\.[23]', 'Postfix used STARTTLS (level may); '
                                 'the Received header should say so')
                self.assertTrue(rest.startswith(b'Received: by mx.remote.test (Postfix'), rest[:200])
                self.assertIn(b'\r\nSubject: via postfix ' + marks[i].encode() + b'\r\n', rest)
                self.assertTrue(rest.endswith(b'\r\n\r\n' + bodies[i]),
                                'body changed on the way (8BITMIME?): %r' % rest[-300:])
        self.assertRegex(pf.log_text(), r'status=sent \(250 2\.0\.0')


if __name__ == '__main__':
    unittest.main()
