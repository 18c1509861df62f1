"""The server process: concurrent sessions, SIGTERM, SIGHUP, restart and crash (acknowledged
mail is durable), several listen addresses."""

import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Closed, RawSMTP, Server, assert_serves, assert_stored, dot_stuff,  # noqa
                     message, send_raw_data, token)

ALICE = 'alice@example.test'
BOB = 'bob@example.test'


class Lifecycle(unittest.TestCase):

    def test_concurrent_sessions_all_stored(self):
        # 8 clients x 6 messages at the same time (group commit must answer each correctly).
        with Server(accounts=[ALICE, BOB]) as srv:
            sent = {}
            errors = []
            lock = threading.Lock()

            def client(n):
                try:
                    with RawSMTP(srv.smtp_port) as c:
                        c.ehlo()
                        for i in range(6):
                            t = token()
                            msg = message(t, body=b'client %d message %d %s\r\n'
                                          % (n, i, t.encode()))
                            r = send_raw_data(c, 'c%d@remote.test' % n, [ALICE, BOB], msg)
                            if r.code != 250:
                                raise AssertionError('client %d msg %d: %r' % (n, i, r))
                            with lock:
                                sent[t] = (n, msg)
                except Exception as e:  # reported below
                    errors.append(repr(e))

            threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(60)
            self.assertEqual(errors, [])
            self.assertEqual(len(sent), 48)
            for rcpt in (ALICE, BOB):
                msgs = srv.export_maildir(rcpt)
                self.assertEqual(len(msgs), 48, rcpt)
                for t, (n, msg) in sent.items():
                    found = [m for m in msgs if t.encode() in m]
                    self.assertEqual(len(found), 1, (rcpt, t))
                    assert_stored(found[0], 'c%d@remote.test' % n, msg)
            self.assertEqual(srv.check(), 96)

    def test_sigterm_with_idle_client_exits_0_quickly(self):
        with Server(accounts=[ALICE]) as srv:
            c = RawSMTP(srv.smtp_port)
            self.addCleanup(c.close)
            c.ehlo()
            start = time.monotonic()
            srv.stop()          # asserts exit code 0 within 5 s
            self.assertLess(time.monotonic() - start, 5)
            # The client sees a 421 or a plain close, never a hang.
            c.sock.settimeout(3)
            try:
                r = c.reply()
                self.assertEqual(r.code, 421, r)
            except (Closed, OSError):
                pass

    def test_sigterm_mid_data_then_restart(self):
        t_done, t_half = token(), token()
        with Server(accounts=[ALICE]) as srv:
            with RawSMTP(srv.smtp_port) as c:
                c.ehlo()
                r = send_raw_data(c, 'a@remote.test', [ALICE], message(t_done))
                self.assertEqual(r.code, 250, r)
                self.assertEqual(c.cmd('MAIL FROM:<a@remote.test>').code, 250)
                self.assertEqual(c.cmd('RCPT TO:<%s>' % ALICE).code, 250)
                self.assertEqual(c.cmd('DATA').code, 354)
                c.send(b'Subject: ' + t_half.encode() + b'\r\n\r\nhalf')
                time.sleep(0.2)
                srv.stop()      # exit 0 although a client is in the middle of DATA
            srv.serve()
            self.assertEqual(len(srv.find(ALICE, t_done)), 1, 'acknowledged message lost')
            self.assertEqual(srv.find(ALICE, t_half), [], 'unfinished message stored')
            srv.check()
            assert_serves(self, srv)

    def test_acknowledged_message_survives_kill_9(self):
        with Server(accounts=[ALICE, BOB]) as srv:
            marks = []
            with RawSMTP(srv.smtp_port) as c:
                c.ehlo()
                for i in range(5):
                    t = token()
                    r = send_raw_data(c, 'k@remote.test', [ALICE, BOB], message(t))
                    self.assertEqual(r.code, 250, r)
                    marks.append(t)
                srv.kill9()     # right after the last 250, no chance to flush anything
            for rcpt in (ALICE, BOB):
                msgs = srv.export_maildir(rcpt)
                for t in marks:
                    found = [m for m in msgs if t.encode() in m]
                    self.assertEqual(len(found), 1, '%s lost acknowledged %s after kill -9'
                                     % (rcpt, t))
                    assert_stored(found[0], 'k@remote.test', message(t))
            srv.check()
            srv.serve()
            assert_serves(self, srv)

    def test_sighup_reloads_config(self):
        rcpts = ['r%d@example.test' % i for i in range(4)]
        with Server(accounts=rcpts, config={'max-recipients': 3}) as srv:
            def count_accepted():
                with RawSMTP(srv.smtp_port) as c:
                    c.ehlo()
                    self.assertEqual(c.cmd('MAIL FROM:<h@remote.test>').code, 250)
                    return sum(c.cmd('RCPT TO:<%s>' % r).code == 250 for r in rcpts)
            self.assertEqual(count_accepted(), 3)
            with open(os.path.join(srv.data, 'yubin.conf'), 'a') as f:
                f.write('max-recipients = 2\n')
            srv.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while count_accepted() != 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertEqual(count_accepted(), 2, 'SIGHUP did not reload max-recipients')
            self.assertTrue(srv.alive())

    def test_listen_on_two_addresses(self):
        with Server(accounts=[ALICE], config={'listen': '127.0.0.1,127.0.0.2'}) as srv:
            for host in ('127.0.0.1', '127.0.0.2'):
                with RawSMTP(srv.smtp_port, host=host) as c:
                    self.assertEqual(c.greeting.code, 220, host)
            # and nowhere else
            with self.assertRaises(OSError):
                socket.create_connection(('127.0.0.3', srv.smtp_port), timeout=2).close()

    def test_restart_keeps_everything(self):
        t = token()
        with Server(accounts=[ALICE]) as srv:
            srv.run('alias', 'add', 'team@example.test', ALICE)
            with RawSMTP(srv.smtp_port) as c:
                c.ehlo()
                self.assertEqual(send_raw_data(c, 'a@remote.test', ['team@example.test'],
                                               message(t)).code, 250)
            srv.restart()
            found = srv.find(ALICE, t)
            self.assertEqual(len(found), 1)
            assert_stored(found[0], 'a@remote.test', message(t))
            t2 = token()
            with RawSMTP(srv.smtp_port) as c:
                c.ehlo()
                self.assertEqual(send_raw_data(c, 'a@remote.test', ['team@example.test'],
                                               message(t2)).code, 250)
            self.assertEqual(len(srv.export_maildir(ALICE)), 2)


    def served_quickly(self, srv, label):
        start = time.monotonic()
        with RawSMTP(srv.smtp_port, timeout=3) as c:
            c.ehlo()
            self.assertEqual(c.cmd('NOOP').code, 250, label)
        self.assertLess(time.monotonic() - start, 1.5, label)

    def test_slow_clients_do_not_stall_others(self):
        # One event loop must never block on one client: a stalled TLS handshake, half a
        # command line, or a client that never reads its replies.
        with Server(accounts=[ALICE]) as srv:
            stalled = RawSMTP(srv.smtp_port)
            self.addCleanup(stalled.close)
            stalled.ehlo()
            self.assertEqual(stalled.cmd('STARTTLS').code, 220)
            self.served_quickly(srv, 'while a TLS handshake is stalled')
            half = RawSMTP(srv.smtp_port)
            self.addCleanup(half.close)
            half.ehlo()
            self.assertEqual(half.cmd('STARTTLS').code, 220)
            half.send(b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03')
            self.served_quickly(srv, 'while a TLS ClientHello is half sent')
            line = RawSMTP(srv.smtp_port)
            self.addCleanup(line.close)
            line.ehlo()
            line.send(b'MAIL FROM:<half')
            self.served_quickly(srv, 'while a client sent half a line')
            deaf = self.deaf_client(srv, seconds=1)
            self.served_quickly(srv, 'while a client does not read its replies')
            # (shutdown with such clients connected is test_sigterm_with_stalled_clients)
            for c in (stalled, half, line):
                c.close()
            deaf.close()
            time.sleep(0.3)

    def deaf_client(self, srv, seconds, limit=40 * 1024 * 1024):
        """A client that pipelines NOOPs and never reads; returns its socket."""
        deaf = socket.socket()
        self.addCleanup(deaf.close)
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        deaf.connect(('127.0.0.1', srv.smtp_port))
        deaf.setblocking(False)
        data = b'NOOP\r\n' * (limit // 6)
        off = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end and off < len(data):
            try:
                off += deaf.send(data[off:off + 65536])
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break
        self.deaf_sent = off
        return deaf

    def test_client_that_never_reads_costs_bounded_memory(self):
        # Replies to pipelined commands must not pile up without bound: the server has to
        # stop reading from a client whose replies it cannot send.
        def rss_kb(pid):
            with open('/proc/%d/status' % pid) as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        return int(line.split()[1])
            return 0

        with Server(accounts=[ALICE]) as srv:
            before = rss_kb(srv.proc.pid)
            deaf = self.deaf_client(srv, seconds=4)
            grown = rss_kb(srv.proc.pid) - before
            deaf.close()
            time.sleep(0.3)
            self.assertLess(grown, 32 * 1024,
                            'server memory grew by %d MB while one client pipelined %d MB of '
                            'NOOPs without reading the replies'
                            % (grown // 1024, self.deaf_sent // (1024 * 1024)))
            self.served_quickly(srv, 'after the deaf client')

    def test_sigterm_with_stalled_clients_exits_0_within_5s(self):
        # A client stuck in the TLS handshake, and one whose replies cannot be sent, must
        # not hold the shutdown (SIGTERM waits only for in-flight commits).
        for kind in ('tls-handshake', 'not-reading'):
            with self.subTest(kind=kind):
                srv = Server(accounts=[ALICE])
                srv.__enter__()
                try:
                    if kind == 'tls-handshake':
                        c = RawSMTP(srv.smtp_port)
                        self.addCleanup(c.close)
                        c.ehlo()
                        self.assertEqual(c.cmd('STARTTLS').code, 220)
                    else:
                        self.deaf_client(srv, seconds=1)
                    time.sleep(0.2)
                finally:
                    start = time.monotonic()
                    code = srv.stop(assert_clean=False)
                    elapsed = time.monotonic() - start
                    srv.cleanup()
                self.assertEqual(code, 0, 'exit after SIGTERM with a %s client: %r'
                                 % (kind, code))
                self.assertLess(elapsed, 5)

    def test_hostname_and_last_setting_wins(self):
        host = 'mx.example.test'
        t = token()
        with Server(accounts=[ALICE], init_args=['--hostname', host],
                    config=['max-recipients = 1', 'max-recipients = 2']) as srv:
            with RawSMTP(srv.smtp_port) as c:
                self.assertEqual(c.greeting.lines[0].split(' ')[0], host, c.greeting)
                r = c.ehlo()
                self.assertEqual(r.lines[0].split(' ')[0], host, r)
                c.starttls()
                der = c.sock.getpeercert(binary_form=True)
                self.assertIn(host.encode(), der, 'certificate does not name ' + host)
                c.ehlo()
                self.assertEqual(c.cmd('MAIL FROM:<h@remote.test>').code, 250)
                codes = [c.cmd('RCPT TO:<%s>' % ALICE).code for _ in range(1)]
                codes += [c.cmd('RCPT TO:<alice+%d@example.test>' % i).code for i in range(2)]
                self.assertEqual(codes, [250, 250, 452], 'the last max-recipients (2) must win')
                self.assertEqual(c.cmd('DATA').code, 354)
                c.send(dot_stuff(message(t)) + b'.\r\n')
                self.assertEqual(c.reply().code, 250)
            found = srv.find(ALICE, t)
            self.assertEqual(len(found), 1)   # alice and alice+0 are one mailbox: one copy
            assert_stored(found[0], 'h@remote.test', message(t), hostname=host)

    def test_cli_changes_apply_while_serving(self):
        # An operator adds or removes accounts, aliases, domains and catch-alls with the CLI
        # while the server runs; the next RCPT must see the change without a restart.
        with Server(accounts=[ALICE]) as srv:
            def rcpt(addr):
                with RawSMTP(srv.smtp_port) as c:
                    c.ehlo()
                    self.assertEqual(c.cmd('MAIL FROM:<cli@remote.test>').code, 250)
                    return c.cmd('RCPT TO:<%s>' % addr).code
            self.assertEqual(rcpt('newbie@example.test'), 550)
            srv.add_account('newbie@example.test')
            self.assertEqual(rcpt('newbie@example.test'), 250, 'account add not seen')
            srv.run('account', 'del', 'newbie@example.test')
            self.assertEqual(rcpt('newbie@example.test'), 550, 'account del not seen')
            srv.run('alias', 'add', 'grp@example.test', ALICE)
            self.assertEqual(rcpt('grp@example.test'), 250, 'alias add not seen')
            srv.run('alias', 'del', 'grp@example.test')
            self.assertEqual(rcpt('grp@example.test'), 550, 'alias del not seen')
            self.assertEqual(rcpt('x@late.test'), 554)
            srv.run('domain', 'add', 'late.test')
            srv.add_account('x@late.test')
            self.assertEqual(rcpt('x@late.test'), 250, 'domain add not seen')
            srv.run('domain', 'catchall', 'example.test', ALICE)
            self.assertEqual(rcpt('zzz@example.test'), 250, 'catch-all not seen')
            srv.run('domain', 'catchall', 'example.test', '--off')
            self.assertEqual(rcpt('zzz@example.test'), 550, 'catch-all --off not seen')

if __name__ == '__main__':
    unittest.main()
