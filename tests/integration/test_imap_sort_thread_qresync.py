"""IMAP SORT and THREAD (RFC 5256) and QRESYNC (RFC 7162) against fixed messages whose right
answers are worked out by hand from the RFCs."""

import imaplib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEFAULT_PASSWORD, ServerTestCase  # noqa

ALICE = 'alice@example.test'

MESSAGES = [
    b'Message-ID: <a@x>\r\nSubject: Hello\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n'
    b'From: Bob <bob@x>\r\n\r\n1\r\n',
    b'Message-ID: <b@x>\r\nReferences: <a@x>\r\nSubject: Re: Hello\r\n'
    b'Date: Mon, 1 Jan 2024 11:00:00 +0000\r\nFrom: alice@x\r\n\r\n2\r\n',
    b'Message-ID: <c@x>\r\nSubject: Other\r\nDate: Mon, 1 Jan 2024 09:00:00 +0000\r\n'
    b'From: carol@x\r\n\r\n3\r\n',
    b'Message-ID: <d@x>\r\nIn-Reply-To: <b@x>\r\nSubject: Fwd: Re: [list] hello (fwd)\r\n'
    b'Date: Mon, 1 Jan 2024 13:00:00 +0100\r\nFrom: dave@x\r\n\r\n4\r\n',
    b'Message-ID: <e@x>\r\nReferences: <a@x>\r\nSubject: Re: Hello\r\n'
    b'Date: Mon, 1 Jan 2024 11:30:00 +0000\r\nFrom: "Eve" <eve@x>\r\n\r\n5\r\n',
]


class SortThread(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE])

    def imap(self):
        m = imaplib.IMAP4('127.0.0.1', self.srv.port_offset + 143, timeout=10)
        self.addCleanup(lambda: m.shutdown())
        m.login(ALICE, DEFAULT_PASSWORD)
        return m

    def setUp(self):
        m = self.imap()
        m.create('T')
        for msg in MESSAGES:
            self.assertEqual(m.append('T', None, None, msg)[0], 'OK')

    def tearDown(self):
        m = self.imap()
        m.delete('T')

    def test_capabilities(self):
        m = self.imap()
        for cap in ('SORT', 'THREAD=REFERENCES', 'THREAD=ORDEREDSUBJECT', 'QRESYNC'):
            self.assertIn(cap, m.capabilities)

    def test_sort(self):
        m = self.imap()
        m.select('T')
        # 4's date is 12:00 UTC (13:00 +0100).
        self.assertEqual(m.sort('(DATE)', 'UTF-8', 'ALL'), ('OK', [b'3 1 2 5 4']))
        self.assertEqual(m.sort('(ARRIVAL)', 'UTF-8', 'ALL'), ('OK', [b'1 2 3 4 5']))
        # Base subjects: "other" > "hello"; within "hello" by From's local part.
        self.assertEqual(m.sort('(REVERSE SUBJECT FROM)', 'UTF-8', 'ALL'), ('OK', [b'3 2 1 4 5']))
        self.assertEqual(m.sort('(FROM)', 'UTF-8', 'NOT', 'FROM', 'carol'), ('OK', [b'2 1 4 5']))
        typ, data = m.uid('SORT', '(REVERSE DATE)', 'UTF-8', 'ALL')
        self.assertEqual(typ, 'OK')
        self.assertEqual(len(data[0].split()), 5)
        with self.assertRaises(imaplib.IMAP4.error):
            m.sort('(NOSUCH)', 'UTF-8', 'ALL')

    def test_thread(self):
        m = self.imap()
        m.select('T')
        self.assertEqual(m.thread('REFERENCES', 'UTF-8', 'ALL'), ('OK', [b'(3)(1 (2 4)(5))']))
        self.assertEqual(m.thread('ORDEREDSUBJECT', 'UTF-8', 'ALL'),
                         ('OK', [b'(3)(1 (2)(5)(4))']))


class Qresync(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ALICE])

    def test_vanished_and_changes_since(self):
        m = imaplib.IMAP4('127.0.0.1', self.srv.port_offset + 143, timeout=10)
        self.addCleanup(lambda: m.shutdown())
        m.login(ALICE, DEFAULT_PASSWORD)
        typ, data = m._simple_command('ENABLE', 'QRESYNC')
        self.assertEqual(typ, 'OK')
        self.assertEqual(m.untagged_responses.pop('ENABLED'), [b'QRESYNC'])
        for i in range(3):
            m.append('INBOX', None, None, b'Subject: q%d\r\n\r\nx\r\n' % i)
        m.select('INBOX')
        uv = m.untagged_responses['UIDVALIDITY'][0].decode()
        hm = int(m.untagged_responses['HIGHESTMODSEQ'][0])
        m.store('2', '+FLAGS', '(\\Deleted)')
        m.untagged_responses.pop('VANISHED', None)
        m.expunge()
        # With QRESYNC, expunges are announced as VANISHED UIDs, not EXPUNGE numbers.
        self.assertEqual(m.untagged_responses.pop('VANISHED'), [b'2'])
        self.assertNotIn('EXPUNGE', m.untagged_responses)
        m.store('1', '+FLAGS', '(\\Flagged)')
        m.close()
        for k in ('VANISHED', 'FETCH'):
            m.untagged_responses.pop(k, None)
        typ, data = m._simple_command('SELECT', 'INBOX (QRESYNC (%s %d))' % (uv, hm))
        self.assertEqual(typ, 'OK')
        self.assertEqual(m.untagged_responses.pop('VANISHED'), [b'(EARLIER) 2'])
        fetch = m.untagged_responses.pop('FETCH')
        self.assertEqual(len(fetch), 1)
        self.assertIn(b'UID 1 FLAGS (\\Flagged)', fetch[0])
        # A stale UIDVALIDITY gets no VANISHED (the client must resynchronise fully).
        m._simple_command('SELECT', 'INBOX (QRESYNC (1 %d))' % hm)
        self.assertNotIn('VANISHED', m.untagged_responses)


if __name__ == '__main__':
    unittest.main()
