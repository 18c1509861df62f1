"""What an IMAP client that has not logged in may make the server hold (docs/configuration.md):
one command, line and literals together, stays under login-max-command however many small
literals it carries; all unauthenticated connections from one address together stay under
login-max-per-ip; the server's memory does not grow with what such clients send."""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, needs  # noqa: E402
from imap_common import RawIMAP, assert_status  # noqa: E402

ALICE = 'alice@example.test'


def rss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS for %d' % pid)


def raw_imap_from(port, source):
    s = socket.create_connection(('127.0.0.1', port), timeout=10, source_address=(source, 0))
    f = s.makefile('rb')
    greeting = f.readline()
    assert greeting.startswith(b'* OK'), greeting
    return s, f


class PreloginCommandSize(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE])

    def test_many_small_literals_refused_early(self):
        with RawIMAP(self.srv.imap_port) as c:
            # 100 literals of 4 KiB each (LITERAL-): each is small, the command is not.
            parts = ['LOGIN {4096+}']
            for i in range(99):
                parts += [b'x' * 4096, ' {4096+}']
            parts += [b'y' * 4096, '']
            c.send(('a1 ' + parts[0] + '\r\n').encode())
            for p in parts[1:]:
                c.send(p if isinstance(p, bytes) else (p + '\r\n').encode())
            r = c.until_tagged('a1')
            assert_status(self, r, 'BAD', 'LIMIT')
            self.assertIn('larger than 8192 bytes', r.text)
            # The session goes on; the skipped literals were not read as commands.
            assert_status(self, c.cmd('NOOP'), 'OK')
            self.assertEqual(c.buf, b'')

    def test_synchronizing_literals_refused_before_plus(self):
        with RawIMAP(self.srv.imap_port) as c:
            r = c.command('LOGIN {5000}', b'a' * 5000, ' {5000}', b'b' * 5000, '')
            assert_status(self, r, 'BAD', 'LIMIT')
            assert_status(self, c.cmd('NOOP'), 'OK')
            # After login the full limits apply.
            c.login(ALICE)
            r = c.command('APPEND INBOX {20000}', b'Subject: x\r\n\r\n' + b'z' * 19986, '')
            assert_status(self, r, 'OK')


class PreloginPerAddress(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE])

    def test_address_total_bounded(self):
        conns = []
        try:
            answers = []
            for i in range(12):
                s, f = raw_imap_from(self.srv.imap_port, '127.0.0.7')
                conns.append(s)
                s.sendall(b'a LOGIN {7000}\r\n')
                answer = f.readline()
                answers.append(answer)
                if answer.startswith(b'+'):
                    s.sendall(b'p' * 7000)  # and never the rest of the command
            accepted = [a for a in answers if a.startswith(b'+')]
            refused = [a for a in answers if a.startswith(b'a NO [LIMIT]')]
            # 64 KiB per address: nine commands of ~7 KiB fit, the rest are refused.
            self.assertEqual(len(accepted), 9, answers)
            self.assertEqual(len(refused), 3, answers)
            # Another address is not affected.
            with RawIMAP(self.srv.imap_port) as c:
                r = c.command('LOGIN {7000}', b'q' * 7000, ' x')
                assert_status(self, r, 'NO', 'AUTHENTICATIONFAILED')
            # One that keeps sending a long line from the full address is sent away.
            s, f = raw_imap_from(self.srv.imap_port, '127.0.0.7')
            conns.append(s)
            s.sendall(b'b LOGIN ' + b'r' * 6000)
            self.assertTrue(f.readline().startswith(b'* BYE Your address has too much'))
            # Closing the holders frees the address's share.
            for s in conns:
                s.close()
            conns = []
            for _ in range(50):
                time.sleep(0.1)
                s, f = raw_imap_from(self.srv.imap_port, '127.0.0.7')
                s.sendall(b'a LOGIN {7000}\r\n')
                ok = f.readline().startswith(b'+')
                s.close()
                if ok:
                    break
            self.assertTrue(ok, 'address share not released after its connections closed')
        finally:
            for s in conns:
                s.close()


class PreloginMemory(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE])

    @needs('a build without sanitizers (ASan keeps freed memory in quarantine, so RSS '
           'measures churn, not what is held)', not os.environ.get('YUBIN_SANITIZED'))
    def test_rss_does_not_grow_with_unauthenticated_literals(self):
        pid = self.srv.proc.pid
        before = rss_kb(pid)
        per_conn = int(os.environ.get('PRELOGIN_MIB', '4')) << 20  # 4 MiB of 4 KiB literals in one command, 8 connections

        def attack(i):
            s, f = raw_imap_from(self.srv.imap_port, '127.0.1.%d' % (i + 1))
            try:
                s.sendall(b'a LOGIN {4096+}\r\n')
                chunk = (b'x' * 4096 + b' {4096+}\r\n') * 64
                for _ in range(per_conn // (4096 * 64)):
                    s.sendall(chunk)
            except OSError:
                pass  # sent away: fine
            finally:
                holders.append(s)

        holders = []
        threads = [threading.Thread(target=attack, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        time.sleep(1.0)  # let the server read what the kernel still buffers
        after = rss_kb(pid)
        for s in holders:
            s.close()
        print('\n    VmRSS before %d kB, after 8 x %d MiB of literals %d kB (+%d kB)'
              % (before, per_conn >> 20, after, after - before), file=sys.stderr)
        # Old code: +32 MB (every literal kept). Now: a few KiB per connection.
        self.assertLess(after - before, 8 * 1024)


if __name__ == '__main__':
    unittest.main()
