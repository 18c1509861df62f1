"""yubin's rspamd client (src/spam/rspamd.c) against a real rspamd, and against fake servers
that misbehave. build/rspamd-tool runs the client on an event loop, as the server does, and
prints what the client hands its caller (see tests/conformance/rspamd_tool.c).

RspamdScan starts one private rspamd (with clamd for viruses and Redis for Bayes learning,
rspamd_common.py) for the whole class and checks rspamd's own answers over HTTP first, so a
broken rspamd setup is told apart from a broken client. RspamdBadServers needs no rspamd:
a socket that accepts and never answers, answers that are not JSON, cut short, or too large.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rspamd_common as rc  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# next to the yubin under test (build/ or build-asan/), unless RSPAMD_TOOL_BIN says otherwise
TOOL = os.environ.get('RSPAMD_TOOL_BIN') or os.path.join(
    os.path.dirname(os.path.abspath(os.environ.get('YUBIN_BIN', os.path.join(ROOT, 'build',
                                                                             'yubin')))),
    'rspamd-tool')
FAKE_ADDR = '127.0.0.80'


def run_tool(args, wall=60, rc=0):
    """Runs rspamd-tool; returns (lines split on tabs, stderr)."""
    if not os.access(TOOL, os.X_OK):
        raise AssertionError('%s is missing (make all builds it)' % TOOL)
    p = subprocess.run([TOOL] + args, capture_output=True, text=True, timeout=wall)
    if p.returncode != rc:
        raise AssertionError('rspamd-tool %r: rc %d\n%s\n%s' % (args, p.returncode, p.stdout,
                                                                p.stderr))
    return [l.split('\t') for l in p.stdout.splitlines()], p.stderr


class ToolMixin:
    @classmethod
    def write(cls, name, data):
        path = os.path.join(cls.tmp, name)
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def scan(self, url, msg, *options, wall=60):
        lines, _ = run_tool(['scan', url, *options, msg], wall)
        self.assertEqual(lines[-1][0], 'STATS', lines)
        return lines[:-1], lines[-1][1]

    def one(self, url, msg, *options, wall=60):
        lines, stats = self.scan(url, msg, *options, wall=wall)
        self.assertEqual(len(lines), 1, lines)
        return lines[0]


class RspamdScan(ToolMixin, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='yubin-rspamd-test-')
        cls.rs = rc.PrivateRspamd(clamd=True, redis=True)
        cls.rs.start()
        print('rspamd started in %.1f s' % cls.rs.start_seconds, file=sys.stderr)
        cls.gtube = cls.write('gtube.eml', rc.gtube_message())
        cls.clean = cls.write('clean.eml', rc.clean_message())
        cls.junk = cls.write('junk.eml', rc.junk_message())
        cls.eicar = cls.write('eicar.eml', rc.eicar_message())

    @classmethod
    def tearDownClass(cls):
        cls.rs.stop()

    ENVELOPE = ('--ip', '192.0.2.10', '--helo', 'mx.sender.example', '--from',
                'sam@sender.example', '--rcpt', 'alice@example.test', '--hostname',
                'mx.sender.example')

    def test_rspamd_itself(self):
        """rspamd's own answers over HTTP: the setup the client tests stand on."""
        d = self.rs.scan(rc.gtube_message())
        self.assertEqual((d['action'], d['messages'].get('smtp_message')),
                         ('reject', 'Gtube pattern'), d)
        d = self.rs.scan(rc.clean_message())
        self.assertEqual(d['action'], 'no action', d)
        d = self.rs.scan(rc.junk_message())
        self.assertEqual(d['action'], 'add header', d)
        self.assertIn('YUBIN_TEST_JUNK', d['symbols'])
        d = self.rs.scan(rc.eicar_message())
        self.assertEqual(d['action'], 'reject', d)
        self.assertEqual(d['symbols']['CLAM_VIRUS']['options'],
                         [rc.EICAR_SIGNATURE + '.UNOFFICIAL'], d)

    def test_gtube_rejected(self):
        r = self.one(self.rs.url, self.gtube, *self.ENVELOPE)
        self.assertEqual(r[0:2], ['RESULT', 'reject'], r)
        self.assertEqual(float(r[2]), 15.0)
        self.assertEqual((r[4], r[5]), ('-', 'Gtube pattern'), r)
        self.assertIn('GTUBE(', r[6])
        self.assertEqual(r[9:12], ['reject', 'spam', '550 5.7.1 Gtube pattern'], r)

    def test_clean_no_action(self):
        r = self.one(self.rs.url, self.clean, *self.ENVELOPE)
        self.assertEqual(r[0:2], ['RESULT', 'no action'], r)
        self.assertLess(float(r[2]), 4.0)
        self.assertEqual(float(r[3]), 15.0)  # required_score: rspamd's reject threshold
        self.assertEqual((r[4], r[5]), ('-', '-'), r)
        self.assertEqual(r[9:12], ['deliver', 'clean', '-'], r)
        self.assertRegex(r[12], r'^X-Spam-Status: No, score=-?[0-9.]+ required=15.00 '
                                r'action="no action"\|X-Spam-Score: -?[0-9.]+\|$')

    def test_junk_add_header(self):
        r = self.one(self.rs.url, self.junk, *self.ENVELOPE)
        self.assertEqual(r[0:2], ['RESULT', 'add header'], r)
        self.assertGreaterEqual(float(r[2]), 6.0)
        self.assertTrue(r[6].startswith('YUBIN_TEST_JUNK(8.00)'), r)  # strongest first
        self.assertEqual(r[9:12], ['junk', 'junk', '-'], r)
        self.assertIn('X-Spam-Status: Yes, score=', r[12])
        self.assertIn('|X-Spam-Symbols: YUBIN_TEST_JUNK(8.00),', r[12])

    def test_eicar_virus(self):
        r = self.one(self.rs.url, self.eicar, *self.ENVELOPE)
        self.assertEqual(r[0:2], ['RESULT', 'reject'], r)
        self.assertEqual(r[4], rc.EICAR_SIGNATURE + '.UNOFFICIAL', r)
        self.assertIn('virus found', r[5])
        self.assertIn('CLAM_VIRUS(', r[6])
        self.assertEqual(r[9:12], ['reject', 'virus', '554 5.7.1 This message contains a virus '
                                   '(%s.UNOFFICIAL) and was not accepted' % rc.EICAR_SIGNATURE],
                         r)

    def test_envelope_reaches_rspamd(self):
        """IP, From, both Rcpt headers and the Queue-Id show in rspamd's log line."""
        qid = 'Q%d' % int(time.time() * 1000)
        r = self.one(self.rs.url, self.clean, '--ip', '198.51.100.7', '--helo', 'h.example',
                     '--from', 'sam@sender.example', '--rcpt', 'alice@example.test',
                     '--rcpt', 'bob@example.test', '--queue-id', qid)
        self.assertEqual(r[0], 'RESULT', r)
        deadline = time.time() + 5
        while True:
            with open(self.rs.log, errors='replace') as f:
                line = next((l for l in f if 'qid: <%s>' % qid in l), None)
            if line or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertIsNotNone(line, 'no rspamd log line with qid %s' % qid)
        self.assertIn('ip: 198.51.100.7', line)
        self.assertIn('from: <sam@sender.example>', line)
        self.assertIn('rcpts: <alice@example.test,bob@example.test>', line)

    def test_large_message(self):
        """A 20 MB message goes from the caller's bytes (not copied) and is scanned whole."""
        line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. ' * 20 + '\r\n'
        big = self.write('big.eml', rc.message('Quarterly report', line * 18000))
        self.assertGreater(os.path.getsize(big), 20 * 1000 * 1000)
        r = self.one(self.rs.url, big, '--timeout-ms', '30000', *self.ENVELOPE)
        self.assertEqual(r[0:2], ['RESULT', 'no action'], r)

    def test_concurrent_scans(self):
        """30 scans at once on one loop: every one answered, each exactly once."""
        lines, stats = self.scan(self.rs.url, self.gtube, '--count', '30', *self.ENVELOPE)
        self.assertEqual(len(lines), 30, lines)
        self.assertTrue(all(l[0:2] == ['RESULT', 'reject'] for l in lines), lines)
        self.assertEqual(stats, 'scans=30 errors=0 timeouts=0 cancelled=0')

    def test_learn_spam_ham_and_password(self):
        spam0, ham0 = self.rs.learned('spam'), self.rs.learned('ham')
        words = ' '.join('word%d' % i for i in range(60))
        spam = self.write('learn-spam.eml', rc.message('Buy now', 'Cheap pills ' + words))
        ham = self.write('learn-ham.eml', rc.message('Minutes', 'Meeting notes ' + words[::-1]))
        lines, err = run_tool(['learn', 'spam', self.rs.controller_url, '--password',
                               self.rs.password, spam])
        self.assertEqual(lines[-1][:2], ['LEARN', 'ok=1 errors=0'], (lines, err))
        self.assertRegex(err, r'event=rspamd-learn as=spam msg=\S+ result=ok')
        self.assertEqual(self.rs.learned('spam'), spam0 + 1)
        lines, err = run_tool(['learn', 'ham', self.rs.controller_url, '--password',
                               self.rs.password, '--rcpt', 'alice@example.test', ham])
        self.assertEqual(lines[-1][:2], ['LEARN', 'ok=1 errors=0'], (lines, err))
        self.assertEqual(self.rs.learned('ham'), ham0 + 1)
        # a wrong password: refused by rspamd, logged, nothing learned
        other = self.write('learn-other.eml', rc.message('Other', 'Another text ' + words))
        lines, err = run_tool(['learn', 'spam', self.rs.controller_url, '--password',
                               'wrong', other])
        self.assertEqual(lines[-1][:2], ['LEARN', 'ok=0 errors=1'], (lines, err))
        self.assertRegex(err, r'result=error status=401 .*Unauthorized')
        self.assertEqual(self.rs.learned('spam'), spam0 + 1)

    def test_zz_rspamd_stopped(self):
        """Runs last (one rspamd per class): once it is down, a scan fails at once."""
        self.rs.stop_rspamd()
        r = self.one(self.rs.url, self.clean, '--timeout-ms', '5000', *self.ENVELOPE)
        self.assertEqual(r[0], 'ERROR', r)
        self.assertIn('cannot connect to rspamd at %s:%d' % (rc.RSPAMD_ADDR, self.rs.port), r[1])
        self.assertLess(int(r[2]), 500, r)
        self.assertEqual(r[3:7], ['deliver', 'unscanned', '-', 'X-Spam-Status: unscanned|'], r)
        r = self.one(self.rs.url, self.clean, '--tempfail', '1')
        self.assertEqual(r[0], 'ERROR', r)
        self.assertEqual(r[3], 'tempfail', r)
        self.assertTrue(r[5].startswith('451 4.7.1 '), r)


def read_request(conn):
    """Reads one HTTP request (head and Content-Length body); returns the head."""
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, body = data.split(b'\r\n\r\n', 1)
    m = re.search(rb'(?im)^content-length:\s*(\d+)', head)
    want = int(m.group(1)) if m else 0
    while len(body) < want:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head


class FakeServer:
    """Answers every connection with behave(conn) in a thread of its own."""

    def __init__(self, behave):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((FAKE_ADDR, 0))
        self.sock.listen(64)
        self.url = 'http://%s:%d' % self.sock.getsockname()
        self.behave = behave
        self.held = []
        self.heads = []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            if self.behave(self, conn) == 'hold':
                self.held.append(conn)
                return
        except OSError:
            pass
        conn.close()

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def answer(status, body, headers=b''):
    def behave(srv, conn):
        srv.heads.append(read_request(conn))
        conn.sendall(b'HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n'
                     % (status, len(body), headers) + body)
    return behave


def silent(srv, conn):
    return 'hold'  # accepts, reads nothing, never answers


def close_at_once(srv, conn):
    read_request(conn)


def cut_short(srv, conn):
    read_request(conn)
    conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"action":"reject","sco')


def json_cut_short(srv, conn):
    read_request(conn)
    body = b'{"action":"reject","score":15.0,"symbols":{"GTUBE":{"sco'
    conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(body) + body)


def huge_declared(srv, conn):
    read_request(conn)
    conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n{"action":"reject",')
    try:
        conn.sendall(b'"x":"' + b'a' * 1999970 + b'"}')
    except OSError:
        pass  # the client hung up once it had seen enough: that is the point


def huge_streamed(srv, conn):
    read_request(conn)
    conn.sendall(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"action":"reject","x":"')
    try:
        for _ in range(64):
            conn.sendall(b'a' * 65536)
    except OSError:
        pass


def not_http(srv, conn):
    read_request(conn)
    conn.sendall(b'SSH-2.0-OpenSSH_9.2\r\n\r\n')


class RspamdBadServers(ToolMixin, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='yubin-rspamd-fake-')
        cls.msg = cls.write('clean.eml', rc.clean_message())
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.close()

    def fake(self, behave):
        s = FakeServer(behave)
        self.servers.append(s)
        return s

    def error(self, behave, *options):
        srv = self.fake(behave)
        r = self.one(srv.url, self.msg, '--timeout-ms', '5000', *options)
        self.assertEqual(r[0], 'ERROR', r)
        return r

    def test_silent_server_times_out(self):
        srv = self.fake(silent)
        t0 = time.monotonic()
        lines, stats = self.scan(srv.url, self.msg, '--timeout-ms', '1000', '--count', '10')
        wall = time.monotonic() - t0
        self.assertEqual(len(lines), 10, lines)
        for r in lines:
            self.assertEqual(r[:2], ['ERROR', 'no answer from rspamd within 1000 ms'], r)
            self.assertTrue(950 <= int(r[2]) < 2000, r)
            self.assertEqual(r[3:5], ['deliver', 'unscanned'], r)
        self.assertEqual(stats, 'scans=0 errors=10 timeouts=10 cancelled=0')
        self.assertLess(wall, 5, 'ten scans waited one after another')

    def test_silent_server_large_message(self):
        """A server that never reads: the send stalls, and the deadline still ends it."""
        srv = self.fake(silent)
        big = self.write('big.eml', b'Subject: big\r\n\r\n' + b'x' * (20 * 1000 * 1000))
        r = self.one(srv.url, big, '--timeout-ms', '1000')
        self.assertEqual(r[:2], ['ERROR', 'no answer from rspamd within 1000 ms'], r)
        self.assertTrue(950 <= int(r[2]) < 2000, r)

    def test_cancel(self):
        """A cancelled scan never calls back, and leaves nothing on the loop (the tool's
        loop ends by itself long before the 10 s timeout)."""
        srv = self.fake(silent)
        t0 = time.monotonic()
        lines, stats = self.scan(srv.url, self.msg, '--timeout-ms', '10000',
                                 '--cancel-after-ms', '200', '--count', '3')
        self.assertEqual([l[0] for l in lines], ['CANCELLED'] * 3, lines)
        self.assertEqual(stats, 'scans=0 errors=0 timeouts=0 cancelled=3')
        self.assertLess(time.monotonic() - t0, 5)

    def test_not_json(self):
        r = self.error(answer(b'200 OK', b'<html><body>It works!</body></html>'))
        self.assertTrue(r[1].startswith('not JSON'), r)

    def test_json_of_the_wrong_shape(self):
        r = self.error(answer(b'200 OK', b'{"action":"reject","score":"high"}'))
        self.assertIn('"score" is missing or not a number', r[1])
        r = self.error(answer(b'200 OK', b'["reject"]'))
        self.assertIn('not a JSON object', r[1])

    def test_truncated(self):
        r = self.error(cut_short)
        self.assertIn('closed the connection before a whole answer', r[1])
        r = self.error(json_cut_short)
        self.assertTrue(r[1].startswith('not JSON'), r)

    def test_huge(self):
        for behave in (huge_declared, huge_streamed):
            r = self.error(behave)
            self.assertIn('larger than 1048576 bytes', r[1])

    def test_http_error(self):
        r = self.error(answer(b'500 Internal Server Error', b'{"error":"Lua error"}'))
        self.assertEqual(r[1], 'rspamd answered HTTP 500 (Lua error)', r)

    def test_not_http(self):
        r = self.error(not_http)
        self.assertIn('not valid HTTP', r[1])

    def test_closed_at_once(self):
        r = self.error(close_at_once)
        self.assertIn('closed the connection', r[1])

    def test_request_headers(self):
        """What goes over the wire: the path, one Rcpt per recipient, the null sender as
        <>, and control bytes from the SMTP client never reach a header."""
        srv = self.fake(answer(b'200 OK', b'{"action":"no action","score":0}'))
        r = self.one(srv.url + '/rspamd/', self.msg, '--ip', '192.0.2.1', '--helo',
                     'bad\x01helo', '--from', '', '--rcpt', 'a@x.test', '--rcpt', 'b@x.test',
                     '--queue-id', 'Q1')
        self.assertEqual(r[:2], ['RESULT', 'no action'], r)
        head = srv.heads[0].decode()
        self.assertTrue(head.startswith('POST /rspamd/checkv2 HTTP/1.1\r\n'), head)
        for h in ('IP: 192.0.2.1', 'Helo: bad?helo', 'From: <>', 'Rcpt: a@x.test',
                  'Rcpt: b@x.test', 'Queue-Id: Q1', 'Content-Length: %d'
                  % os.path.getsize(self.msg)):
            self.assertIn('\r\n' + h + '\r\n', head + '\r\n')

    def test_bad_urls(self):
        for url, why in (('http://rspamd.example:11333', 'numeric address'),
                         ('https://127.0.0.1:11333', 'http://'),
                         ('127.0.0.1:11333', 'http://'),
                         ('http://127.0.0.1:11333/?x=1', 'ADDRESS[:PORT]')):
            lines, _ = run_tool(['scan', url, self.msg], rc=1)
            self.assertEqual(lines[0][0], 'CONFIG', (url, lines))
            self.assertIn(why, lines[0][1], url)


if __name__ == '__main__':
    unittest.main()
