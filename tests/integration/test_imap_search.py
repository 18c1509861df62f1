"""IMAP SEARCH / UID SEARCH (RFC 9051 keys): flags and keywords, addresses and headers, decoded
and case-folded text (quoted-printable, base64, encoded words; Japanese in ISO-2022-JP,
Shift_JIS and EUC-JP found by UTF-8 words), CHARSET UTF-8 and [BADCHARSET], dates (internal and
sent), sizes, sequence and UID sets, NOT/OR/parentheses, ESEARCH RETURN (MIN MAX COUNT ALL),
SEARCHRES (SAVE and $), and BAD for broken programs."""

import base64
import imaplib
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, message, token  # noqa: E402
from imap_common import (RawIMAP, assert_status, deliver, imap, logged_in,  # noqa: E402
                         ok)

ADDR = 'search@example.test'
SAVER = 'saver@example.test'


def enc_word(text, charset, codec=None, q=False):
    raw = text.encode(codec or charset)
    if q:
        body = ''.join('=%02X' % b if b > 126 or b < 33 or b in b'=?_' else chr(b) for b in raw)
        return '=?%s?Q?%s?=' % (charset, body)
    return '=?%s?B?%s?=' % (charset, base64.b64encode(raw).decode())


def mail(headers, body):
    return ('\r\n'.join('%s: %s' % kv for kv in headers) + '\r\n\r\n').encode() + body


# (internal date, flags, message)
MESSAGES = [
    ('01-Jan-2024 12:00:00 +0000', '(\\Seen \\Answered)', mail([
        ('From', '"Taro Yamada" <taro@example.jp>'),
        ('To', 'search@example.test'),
        ('Subject', enc_word('会議の議事録', 'ISO-2022-JP', 'iso2022_jp')),
        ('Date', 'Sun, 31 Dec 2023 23:00:00 +0000'),
        ('MIME-Version', '1.0'),
        ('Content-Type', 'text/plain; charset=ISO-2022-JP'),
        ('Content-Transfer-Encoding', '7bit')],
        '明日の打ち合わせは十時です。\r\n'.encode('iso2022_jp'))),
    ('15-Feb-2024 12:00:00 +0000', '(\\Flagged $Important)', mail([
        ('From', 'hanako@example.jp'),
        ('To', 'search@example.test'),
        ('Subject', enc_word('請求書のお知らせ', 'Shift_JIS', 'shift_jis')),
        ('Date', 'Wed, 14 Feb 2024 10:00:00 +0900'),
        ('MIME-Version', '1.0'),
        ('Content-Type', 'text/plain; charset=Shift_JIS'),
        ('Content-Transfer-Encoding', '8bit')],
        'お支払い期限は月末です。\r\n'.encode('shift_jis'))),
    ('20-Mar-2024 12:00:00 +0000', '(\\Draft)', mail([
        ('From', 'jiro@example.jp'),
        ('To', 'search@example.test'),
        ('Subject', enc_word('東京タワー', 'EUC-JP', 'euc_jp', q=True)),
        ('Date', 'Tue, 19 Mar 2024 08:00:00 +0900'),
        ('MIME-Version', '1.0'),
        ('Content-Type', 'text/plain; charset=EUC-JP'),
        ('Content-Transfer-Encoding', '8bit')],
        '東京タワーの夜景はきれいです。\r\n'.encode('euc_jp'))),
    ('10-Apr-2024 12:00:00 +0000', '(\\Deleted)', mail([
        ('From', 'Hans <hans@example.de>'),
        ('To', 'search@example.test'),
        ('Cc', 'carol@example.test'),
        ('Bcc', 'secret@example.test'),
        ('Subject', '=?UTF-8?Q?Gr=C3=BC=C3=9Fe?='),
        ('Date', 'Tue, 9 Apr 2024 18:00:00 +0200'),
        ('MIME-Version', '1.0'),
        ('Content-Type', 'text/plain; charset=utf-8'),
        ('Content-Transfer-Encoding', 'quoted-printable')],
        b'Gr=C3=BC=C3=9Fe aus M=C3=BCnchen, soft=\r\nbreak joined\r\n')),
    ('10-Apr-2024 13:00:00 +0000', '()', mail([
        ('From', 'reports@example.org'),
        ('To', 'search@example.test'),
        ('Subject', 'Base64 report'),
        ('X-Project', 'Apollo Eleven'),
        ('Date', 'Tue, 9 Apr 2024 09:00:00 +0000'),
        ('MIME-Version', '1.0'),
        ('Content-Type', 'text/plain; charset=us-ascii'),
        ('Content-Transfer-Encoding', 'base64')],
        base64.encodebytes(b'The hidden needle is here.\r\n' + b'padding words ' * 500)
        .replace(b'\n', b'\r\n'))),
]
# 6: delivered over SMTP (internal date = now; Date: 1 Jan 2026): harness.message.


def nums(res, key='SEARCH'):
    lines = res.lines('SEARCH')
    if len(lines) != 1:
        raise AssertionError('expected one * SEARCH line: %r' % res)
    return sorted(int(x) for x in lines[0].split()[1:] if x.isdigit())


class ImapSearch(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[ADDR, SAVER])

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with RawIMAP(cls.srv.imap_port) as c:
            c.login(ADDR)
            for date, flags, msg in MESSAGES:
                r = c.command('APPEND INBOX %s "%s" {%d}' % (flags, date, len(msg)), msg, '')
                if r.status != 'OK':
                    raise AssertionError('APPEND failed: %r' % r)
        cls.marker, _ = deliver(cls.srv, ADDR, subject='plain ascii')

    def setUp(self):
        self.c = logged_in(self.srv, ADDR)
        r = self.c.cmd('EXAMINE INBOX')
        self.assertIn('6 EXISTS', r.lines(), r)

    def tearDown(self):
        self.c.close()

    def search(self, criteria, uid=False):
        r = self.c.cmd(('UID SEARCH ' if uid else 'SEARCH ') + criteria)
        assert_status(self, r, 'OK', msg='SEARCH ' + criteria)
        return nums(r)

    def search_utf8(self, key, text, prefix='SEARCH CHARSET UTF-8 '):
        data = text.encode()
        r = self.c.command('%s%s {%d}' % (prefix, key, len(data)), data, '')
        assert_status(self, r, 'OK', msg='%s %s' % (key, text))
        return nums(r)

    def check(self, criteria, expected):
        self.assertEqual(self.search(criteria), expected, 'SEARCH ' + criteria)

    def test_flags(self):
        for crit, exp in (('ALL', [1, 2, 3, 4, 5, 6]), ('SEEN', [1]), ('UNSEEN', [2, 3, 4, 5, 6]),
                          ('ANSWERED', [1]), ('UNANSWERED', [2, 3, 4, 5, 6]), ('FLAGGED', [2]),
                          ('UNFLAGGED', [1, 3, 4, 5, 6]), ('DRAFT', [3]),
                          ('UNDRAFT', [1, 2, 4, 5, 6]), ('DELETED', [4]),
                          ('UNDELETED', [1, 2, 3, 5, 6]), ('KEYWORD $Important', [2]),
                          ('KEYWORD $important', [2]), ('KEYWORD $Absent', []),
                          ('UNKEYWORD $Important', [1, 3, 4, 5, 6]),
                          ('NEW', []), ('OLD', [1, 2, 3, 4, 5, 6]), ('RECENT', [])):
            self.check(crit, exp)

    def test_addresses_and_headers(self):
        for crit, exp in (('FROM yamada', [1]), ('FROM "Taro Yamada"', [1]),
                          ('FROM TARO@EXAMPLE.JP', [1]), ('FROM example.jp', [1, 2, 3]),
                          ('TO search@example.test', [1, 2, 3, 4, 5, 6]),
                          ('CC carol', [4]), ('BCC secret', [4]), ('CC nobody', []),
                          ('HEADER X-Project apollo', [5]), ('HEADER x-project "ELEVEN"', [5]),
                          ('HEADER X-Project ""', [5]), ('HEADER X-Absent ""', []),
                          ('HEADER Message-ID %s' % self.marker, [6]),
                          ('SUBJECT "base64 REPORT"', [5]), ('SUBJECT plain', [6])):
            self.check(crit, exp)

    def test_decoded_text(self):
        # base64 and quoted-printable bodies are searched decoded, soft line breaks joined.
        self.check('BODY needle', [5])
        self.check('BODY NEEDLE', [5])
        self.check('BODY "softbreak joined"', [4])
        self.check('TEXT apollo', [5])      # TEXT covers the header too
        self.check('BODY apollo', [])       # BODY does not
        self.check('TEXT %s' % self.marker, [6])
        self.check('BODY aGlkZGVu', [])     # the base64 form is not what is searched
        # Non-ASCII: UTF-8 search strings, case-folded.
        self.assertEqual(self.search_utf8('BODY', 'münchen'), [4])
        self.assertEqual(self.search_utf8('BODY', 'MÜNCHEN'), [4])
        self.assertEqual(self.search_utf8('SUBJECT', 'grü'), [4])
        self.assertEqual(self.search_utf8('SUBJECT', 'GRÜßE'), [4])
        self.assertEqual(self.search_utf8('TEXT', 'grüße aus'), [4])

    def test_japanese(self):
        cases = (('SUBJECT', '議事録', [1]), ('BODY', '打ち合わせ', [1]), ('TEXT', '会議', [1]),
                 ('SUBJECT', '請求書', [2]), ('BODY', 'お支払い期限', [2]),
                 ('SUBJECT', 'タワー', [3]), ('BODY', '夜景', [3]), ('TEXT', '東京', [3]),
                 ('BODY', '東京', [3]), ('SUBJECT', '存在しない', []))
        for key, text, exp in cases:
            self.assertEqual(self.search_utf8(key, text), exp, '%s %s' % (key, text))
        # IMAP4rev2: UTF-8 in quoted strings without CHARSET.
        r = self.c.cmd('ENABLE IMAP4rev2')
        self.assertEqual(r.lines('ENABLED'), ['ENABLED IMAP4rev2'])
        r = self.c.cmd('SEARCH SUBJECT "議事録"')
        assert_status(self, r, 'OK')
        self.assertTrue(r.lines('ESEARCH') or r.lines('SEARCH'), r)
        text = ' '.join(r.lines('ESEARCH') + r.lines('SEARCH'))
        self.assertRegex(text, r'(ALL 1$|^SEARCH 1$)', r)

    def test_charset(self):
        self.assertEqual(self.search_utf8('BODY', 'needle', 'SEARCH CHARSET us-ascii '), [5])
        r = self.c.cmd('SEARCH CHARSET ISO-8859-99 BODY x')
        assert_status(self, r, 'NO', 'BADCHARSET')
        self.assertRegex(r.code, r'(?i)UTF-8', 'BADCHARSET should list UTF-8: %r' % r)
        # imaplib with a literal.
        m = imap(self.srv, ADDR)
        m.select('INBOX', readonly=True)
        m.literal = '夜景'.encode()
        typ, data = m.search('UTF-8', 'BODY')
        self.assertEqual((typ, data), ('OK', [b'3']))
        m.logout()

    def test_dates_and_sizes(self):
        for crit, exp in (('BEFORE 1-Feb-2024', [1]), ('BEFORE 01-Jan-2024', []),
                          ('ON 10-Apr-2024', [4, 5]), ('ON 1-Jan-2024', [1]),
                          ('SINCE 20-Mar-2024', [3, 4, 5, 6]), ('SINCE "15-Feb-2024"', [2, 3, 4, 5, 6]),
                          ('SENTBEFORE 1-Jan-2024', [1]), ('SENTON 9-Apr-2024', [4, 5]),
                          ('SENTON 14-Feb-2024', [2]), ('SENTSINCE 1-Jan-2026', [6]),
                          ('SENTSINCE 19-Mar-2024 SENTBEFORE 10-Apr-2024', [3, 4, 5]),
                          ('LARGER 5000', [5]), ('SMALLER 5000', [1, 2, 3, 4, 6]),
                          ('LARGER 4294967295', []), ('SMALLER 1', [])):
            self.check(crit, exp)

    def test_sets_and_logic(self):
        for crit, exp in (('2:4', [2, 3, 4]), ('4:2', [2, 3, 4]), ('*', [6]), ('1,3,5:*', [1, 3, 5, 6]),
                          ('UID 5:*', [5, 6]), ('UID 100:*', [6]),
                          ('NOT SEEN', [2, 3, 4, 5, 6]), ('OR FLAGGED DRAFT', [2, 3]),
                          ('OR OR SEEN FLAGGED DELETED', [1, 2, 4]),
                          ('(FLAGGED) (UNSEEN)', [2]), ('NOT (OR SEEN DELETED)', [2, 3, 5, 6]),
                          ('NOT NOT SEEN', [1]), ('FROM example.jp NOT DRAFT 1:2', [1, 2]),
                          ('(OR (FROM hans) (SUBJECT report) UNDELETED)', [5])):
            self.check(crit, exp)
        # UID SEARCH returns UIDs (equal to numbers here) for the same program.
        self.assertEqual(self.search('OR FLAGGED DRAFT', uid=True), [2, 3])

    def test_bad_programs(self):
        # A fresh connection every few: each BAD counts towards max-errors.
        bad = ('SEARCH FOO', 'SEARCH BEFORE 32-Jan-2024', 'SEARCH BEFORE 2024-01-01',
               'SEARCH LARGER x', 'SEARCH OR SEEN', 'SEARCH (SEEN', 'SEARCH UID',
               'SEARCH NOT', 'SEARCH HEADER X-Project', 'SEARCH KEYWORD', 'SEARCH 0:3',
               'SEARCH RETURN (BOGUS) ALL', 'SEARCH CHARSET', 'SEARCH', 'UID SEARCH SUBJECT')
        for k in range(0, len(bad), 5):
            with logged_in(self.srv, ADDR) as c:
                c.cmd('EXAMINE INBOX')
                for line in bad[k:k + 5]:
                    r = c.cmd(line)
                    assert_status(self, r, 'BAD', msg=line)
                assert_status(self, c.cmd('NOOP'), 'OK')

    def test_esearch(self):
        c = self.c
        r = c.cmd('UID SEARCH RETURN (MIN MAX COUNT) UNSEEN')
        assert_status(self, r, 'OK')
        tag = r.tag
        self.assertEqual(r.lines('ESEARCH'),
                         ['ESEARCH (TAG "%s") UID MIN 2 MAX 6 COUNT 5' % tag])
        self.assertEqual(r.lines('SEARCH'), [], 'ESEARCH and SEARCH both sent')
        r = c.cmd('SEARCH RETURN () UNDELETED')
        self.assertEqual(r.lines('ESEARCH'), ['ESEARCH (TAG "%s") ALL 1:3,5:6' % r.tag])
        r = c.cmd('SEARCH RETURN (ALL) FLAGGED')
        self.assertEqual(r.lines('ESEARCH'), ['ESEARCH (TAG "%s") ALL 2' % r.tag])
        # Nothing found: COUNT 0, no MIN/MAX/ALL.
        r = c.cmd('SEARCH RETURN (MIN MAX COUNT ALL) KEYWORD $Absent')
        self.assertEqual(r.lines('ESEARCH'), ['ESEARCH (TAG "%s") COUNT 0' % r.tag])
        r = c.cmd('SEARCH RETURN (MIN) KEYWORD $Absent')
        self.assertEqual(r.lines('ESEARCH'), ['ESEARCH (TAG "%s")' % r.tag])
        r = c.cmd('SEARCH RETURN (COUNT) CHARSET UTF-8 ALL')
        self.assertEqual(r.lines('ESEARCH'), ['ESEARCH (TAG "%s") COUNT 6' % r.tag])

    def test_searchres(self):
        with logged_in(self.srv, SAVER) as c:
            for i in range(5):
                msg = message(token(), subject='saver %d' % i)
                c.command('APPEND INBOX %s {%d}' % ('(\\Flagged)' if i % 2 else '()', len(msg)),
                          msg, '')
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            # $ before any SAVE: empty.
            r = c.cmd('SEARCH $')
            self.assertEqual(nums(r), [])
            r = c.cmd('SEARCH RETURN (SAVE) FLAGGED')
            assert_status(self, r, 'OK')
            self.assertEqual(r.untagged, [], 'RETURN (SAVE) alone sends no ESEARCH: %r' % r)
            r = c.cmd('FETCH $ (UID)')
            self.assertEqual(sorted(l.split()[0] for l in r.lines()), ['2', '4'], r)
            self.assertEqual(nums(c.cmd('SEARCH $')), [2, 4])
            self.assertEqual(nums(c.cmd('UID SEARCH $')), [2, 4])
            self.assertEqual(nums(c.cmd('SEARCH OR $ 1')), [1, 2, 4])
            self.assertEqual(nums(c.cmd('SEARCH UID $')), [2, 4])
            # SAVE with other options: the ESEARCH still comes.
            r = c.cmd('UID SEARCH RETURN (SAVE MIN) UNFLAGGED')
            self.assertEqual(r.lines('ESEARCH'), ['ESEARCH (TAG "%s") UID MIN 1' % r.tag])
            r = c.cmd('UID STORE $ +FLAGS.SILENT (\\Seen)')
            assert_status(self, r, 'OK')
            self.assertEqual(nums(c.cmd('SEARCH SEEN')), [1, 3, 5])
            # $ survives an expunge of some of its messages, and refers to UIDs.
            r = c.cmd('UID STORE 3 +FLAGS.SILENT (\\Deleted)')
            assert_status(self, c.cmd('EXPUNGE'), 'OK')
            self.assertEqual(nums(c.cmd('UID SEARCH $')), [1, 5])
            r = c.cmd('COPY $ Archive')
            assert_status(self, r, 'OK', 'COPYUID')
            # A new SELECT forgets it.
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            self.assertEqual(nums(c.cmd('SEARCH $')), [])

    def test_imaplib(self):
        m = imap(self.srv, ADDR)
        try:
            m.select('INBOX', readonly=True)
            self.assertEqual(ok(self, m.search(None, 'UNSEEN', 'UNDELETED')), [b'2 3 5 6'])
            self.assertEqual(ok(self, m.uid('SEARCH', 'FROM', '"example.jp"')), [b'1 2 3'])
            with self.assertRaises(imaplib.IMAP4.error):
                m.search(None, 'NOSUCHKEY')
        finally:
            m.logout()
        self.assertTrue(re.match(r'T[0-9a-f]{16}$', self.marker))


if __name__ == '__main__':
    unittest.main()
