"""TLS policy (issue 9, low 8 and 9): TLS 1.2 offers only forward-secret ECDHE key exchange
with AEAD ciphers (no static RSA, no CBC, no SHA-1 MACs), TLS 1.3 as OpenSSL has it, and the
self-signed certificate of a fresh install is valid for one year, not ten."""

import datetime
import os
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa

ALICE = 'alice@example.test'


def handshake(port, ciphers=None, version=None):
    """The negotiated (version, cipher) on the implicit-TLS port, or None if refused."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.minimum_version = version
        ctx.maximum_version = version
    if ciphers:
        ctx.set_ciphers(ciphers)
    with socket.create_connection(('127.0.0.1', port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw) as s:
                return s.version(), s.cipher()[0]
        except (ssl.SSLError, ConnectionResetError):
            return None


class TlsPolicy(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE])

    def test_tls12_refuses_static_rsa_and_cbc(self):
        port = self.srv.imaps_port
        weak = ['AES128-SHA', 'AES256-SHA', 'AES128-GCM-SHA256', 'AES256-SHA256',
                'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA384', 'DHE-RSA-AES128-GCM-SHA256']
        for c in weak:
            try:
                got = handshake(port, ciphers=c + ':@SECLEVEL=0', version=ssl.TLSVersion.TLSv1_2)
            except ssl.SSLError:
                continue  # this client cannot even offer it
            self.assertIsNone(got, 'TLS 1.2 accepted the weak suite %s' % c)

    def test_tls12_accepts_ecdhe_aead(self):
        port = self.srv.imaps_port
        for c in ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384',
                  'ECDHE-RSA-CHACHA20-POLY1305']:
            got = handshake(port, ciphers=c, version=ssl.TLSVersion.TLSv1_2)
            self.assertEqual(got, ('TLSv1.2', c))

    def test_tls13_still_works(self):
        got = handshake(self.srv.imaps_port, version=ssl.TLSVersion.TLSv1_3)
        self.assertIsNotNone(got)
        self.assertEqual(got[0], 'TLSv1.3')

    def test_default_client_negotiates(self):
        got = handshake(self.srv.pop3s_port)
        self.assertIsNotNone(got)

    def test_self_signed_certificate_valid_one_year(self):
        cert = os.path.join(self.srv.data, 'tls', 'cert.pem')
        if not os.path.exists(cert):
            found = [os.path.join(d, f) for d, _, fs in os.walk(self.srv.data) for f in fs
                     if f.endswith('.pem') and 'key' not in f]
            self.assertTrue(found, 'no certificate written by init')
            cert = found[0]
        out = subprocess.run(['openssl', 'x509', '-in', cert, '-noout', '-startdate',
                              '-enddate'], capture_output=True, text=True, check=True).stdout
        dates = dict(line.split('=', 1) for line in out.strip().splitlines())
        fmt = '%b %d %H:%M:%S %Y %Z'
        start = datetime.datetime.strptime(' '.join(dates['notBefore'].split()), fmt)
        end = datetime.datetime.strptime(' '.join(dates['notAfter'].split()), fmt)
        days = (end - start).days
        self.assertGreaterEqual(days, 360)
        self.assertLessEqual(days, 367, 'self-signed certificate valid for %d days' % days)


if __name__ == '__main__':
    unittest.main()
