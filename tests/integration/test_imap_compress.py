"""COMPRESS=DEFLATE (RFC 4978): after "OK DEFLATE active" both directions are raw deflate;
checked with Python's zlib on a plain and on a TLS connection, fetching bytes delivered over
SMTP."""

import os
import smtplib
import socket
import ssl
import sys
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEFAULT_PASSWORD, ServerTestCase, message, token  # noqa

ALICE = 'alice@example.test'


class Deflated:
    def __init__(self, sock):
        self.sock = sock
        self.comp = zlib.compressobj(wbits=-15)
        self.dec = zlib.decompressobj(wbits=-15)
        self.buf = b''

    def send(self, line):
        self.sock.sendall(self.comp.compress(line) + self.comp.flush(zlib.Z_SYNC_FLUSH))

    def until(self, tag):
        while True:
            i = self.buf.find(b'\r\n' + tag + b' ')
            if self.buf.startswith(tag + b' '):
                i = -2
            if i >= -2 and (i != -1):
                end = self.buf.find(b'\r\n', i + 2)
                if end >= 0:
                    out, self.buf = self.buf[:end + 2], self.buf[end + 2:]
                    return out
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError('connection closed; got %r' % self.buf[-200:])
            self.buf += self.dec.decompress(data)


class Compress(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE])

    def check_session(self, sock):
        f = sock.makefile('rb')
        self.assertTrue(f.readline().startswith(b'* OK'))
        sock.sendall(b'a LOGIN %s %s\r\n' % (ALICE.encode(), DEFAULT_PASSWORD.encode()))
        line = f.readline()
        self.assertIn(b'COMPRESS=DEFLATE', line)
        sock.sendall(b'b COMPRESS DEFLATE\r\n')
        self.assertEqual(f.readline(), b'b OK DEFLATE active.\r\n')
        t = token()
        msg = message(t, body=b'compressed ' * 2000 + b'\r\n')
        with smtplib.SMTP('127.0.0.1', self.srv.smtp_port, timeout=10) as s:
            s.sendmail('x@remote.test', [ALICE], msg)
        z = Deflated(sock)
        z.send(b'c SELECT INBOX\r\n')
        self.assertIn(b'c OK [READ-WRITE]', z.until(b'c'))
        z.send(b'd FETCH 1:* (BODY.PEEK[])\r\n')
        got = z.until(b'd')
        self.assertIn(b'd OK', got)
        self.assertIn(msg, got, 'the fetched bytes differ from what SMTP delivered')
        z.send(b'e COMPRESS DEFLATE\r\n')
        self.assertIn(b'e NO [COMPRESSIONACTIVE]', z.until(b'e'))
        z.send(b'f LOGOUT\r\n')
        self.assertIn(b'f OK', z.until(b'f'))

    def test_plain(self):
        sock = socket.create_connection(('127.0.0.1', self.srv.port_offset + 143), timeout=10)
        self.addCleanup(sock.close)
        self.check_session(sock)

    def test_tls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(('127.0.0.1', self.srv.port_offset + 993), timeout=10)
        sock = ctx.wrap_socket(raw)
        self.addCleanup(sock.close)
        self.check_session(sock)


if __name__ == '__main__':
    unittest.main()
