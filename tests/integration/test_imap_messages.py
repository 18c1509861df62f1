"""IMAP messages: what SMTP delivered is what FETCH BODY[] returns, byte for byte; FETCH items
(FLAGS UID INTERNALDATE RFC822.SIZE RFC822(.HEADER/.TEXT) ENVELOPE BODY BODYSTRUCTURE
BODY[section]<partial> with HEADER.FIELDS(.NOT), MIME, TEXT and nested parts, BODY.PEEK,
BINARY[]/BINARY.SIZE, MODSEQ, CHANGEDSINCE); \\Seen from non-PEEK fetches; APPEND (flags, date,
APPENDUID, [TRYCREATE], [TOOBIG]); STORE (+/-FLAGS(.SILENT), keywords, UNCHANGEDSINCE ->
[MODIFIED]); COPY/MOVE ([COPYUID], [TRYCREATE]); EXPUNGE, UID EXPUNGE, CLOSE, UNSELECT, CHECK;
EXAMINE is read-only; invalid sequence numbers; QUOTA and [OVERQUOTA]."""

import base64
import imaplib
import os
import re
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IO_TIMEOUT, ServerTestCase, assert_stored, message, token  # noqa: E402
from imap_common import (SENDER, assert_status, deliver, fetch_items,  # noqa: E402
                         fetches, imap, logged_in, ok, stored_by_marker)

DOMAIN = 'example.test'


def acct(name):
    return '%s@%s' % (name, DOMAIN)


ATTACHMENT = bytes(range(256)) * 3 + b'\x00end'
NESTED = (b'From: Inner Sender <inner@remote.test>\r\n'
          b'To: someone@remote.test\r\n'
          b'Subject: the forwarded one\r\n'
          b'Date: Wed, 31 Dec 2025 23:59:00 +0900\r\n'
          b'Message-ID: <inner@remote.test>\r\n'
          b'\r\n'
          b'Inner body line 1\r\nInner body line 2\r\n')


def multipart(marker):
    """A MIME message: 1 text/plain QP latin-1, 2 text/html, 3 base64 attachment,
    4 message/rfc822."""
    att = base64.encodebytes(ATTACHMENT).replace(b'\n', b'\r\n')
    return (b'From: "Sato, Hanako" <hanako@remote.test>\r\n'
            b'Sender: list@remote.test\r\n'
            b'Reply-To: replies@remote.test\r\n'
            b'To: alice@example.test, "Bob B." <bob@example.test>\r\n'
            b'Cc: carol@example.test\r\n'
            b'Subject: =?UTF-8?B?5pel5pys6Kqe?= multipart ' + marker.encode() + b'\r\n'
            b'Date: Thu, 1 Jan 2026 09:30:00 +0900\r\n'
            b'Message-ID: <' + marker.encode() + b'@remote.test>\r\n'
            b'In-Reply-To: <earlier@remote.test>\r\n'
            b'MIME-Version: 1.0\r\n'
            b'Content-Type: multipart/mixed; boundary="==b1=="\r\n'
            b'\r\n'
            b'This is a multi-part message in MIME format.\r\n'
            b'--==b1==\r\n'
            b'Content-Type: text/plain; charset=iso-8859-1\r\n'
            b'Content-Transfer-Encoding: quoted-printable\r\n'
            b'\r\n'
            b'Caf=E9 au lait, marker ' + marker.encode() + b'\r\n'
            b'second line=\r\n continued\r\n'
            b'--==b1==\r\n'
            b'Content-Type: text/html; charset=utf-8\r\n'
            b'\r\n'
            b'<p>hello</p>\r\n'
            b'--==b1==\r\n'
            b'Content-Type: application/octet-stream; name="data.bin"\r\n'
            b'Content-Transfer-Encoding: base64\r\n'
            b'Content-Disposition: attachment; filename="data.bin"\r\n'
            b'\r\n' + att +
            b'--==b1==\r\n'
            b'Content-Type: message/rfc822\r\n'
            b'\r\n' + NESTED +
            b'--==b1==--\r\n')


def uid_set(text):
    out = []
    for part in text.split(','):
        lo, _, hi = part.partition(':')
        lo, hi = int(lo), int(hi or lo)
        out += range(min(lo, hi), max(lo, hi) + 1)
    return out


def copyuid(code):
    """'COPYUID uidvalidity src-set dst-set' -> (uidvalidity, [src], [dst])"""
    w = (code or '').split()
    if len(w) != 4 or w[0].upper() != 'COPYUID':
        raise AssertionError('not a COPYUID code: %r' % code)
    return w[1], uid_set(w[2]), uid_set(w[3])


class ImapFetch(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[acct(n) for n in ('bytes', 'big', 'struct', 'both', 'seen', 'items',
                                                   'partial', 'binary', 'invalid')])

    def test_delivered_bytes_equal_fetched(self):
        addr = acct('bytes')
        t1 = token()
        sent = [deliver(self.srv, addr),
                deliver(self.srv, addr, marker=t1,
                        body=b'.leading dot\r\n..two dots\r\n.\r\nUTF-8: \xe6\x97\xa5\xe6\x9c'
                             b'\xac\r\n\r\n\r\nmarker ' + t1.encode() + b'\r\n'),
                deliver(self.srv, addr, msg=multipart(t1 + 'x').replace(
                    b'marker ' + (t1 + 'x').encode(), b'marker ' + token().encode()))]
        stored = stored_by_marker(self.srv, addr)
        self.assertEqual(len(stored), 3)
        m = imap(self.srv, addr)
        try:
            typ, data = m.select('INBOX', readonly=True)
            self.assertEqual((typ, data), ('OK', [b'3']))
            for n in (1, 2, 3):
                items = fetch_items(ok(self, m.fetch(str(n), '(BODY.PEEK[] RFC822.SIZE)'),
                                       'FETCH'))
                self.assertEqual(len(items), 1, items)
                body = items[0][1]
                marker = re.search(rb'marker (T[0-9a-f]{16})', body).group(1).decode()
                self.assertEqual(body, stored[marker], 'FETCH BODY[] != stored message')
                size = int(re.search(rb'RFC822\.SIZE (\d+)', items[0][0]).group(1))
                self.assertEqual(size, len(body), 'RFC822.SIZE != length of BODY[]')
            for marker, msg in sent[:2]:
                assert_stored(stored[marker], SENDER, msg)
            # The same through UID FETCH RFC822 and the header/text halves.
            typ, data = m.uid('FETCH', '1:*', '(RFC822 RFC822.HEADER RFC822.TEXT)')
            self.assertEqual(typ, 'OK')
        finally:
            m.logout()
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('EXAMINE INBOX'), 'OK')
            r = c.cmd('FETCH 1:3 (RFC822.HEADER RFC822.TEXT BODY.PEEK[HEADER] BODY.PEEK[TEXT])')
            assert_status(self, r, 'OK')
            for n, f in fetches(r).items():
                whole = f['RFC822.HEADER'] + f['RFC822.TEXT']
                self.assertIn(whole, stored.values(), 'message %d: header + text != stored' % n)
                self.assertEqual(f['BODY[HEADER]'], f['RFC822.HEADER'])
                self.assertEqual(f['BODY[TEXT]'], f['RFC822.TEXT'])
                self.assertTrue(f['BODY[HEADER]'].endswith(b'\r\n\r\n'),
                                'BODY[HEADER] must include the blank line')

    def test_big_messages(self):
        addr = acct('big')
        line = b''.join(b'%07d abcdefghijklmnopqrstuvwxyz0123456789 ' % i for i in range(20))
        body = (line + b'\r\n') * 4000            # about 4 MB
        for _ in range(2):
            deliver(self.srv, addr, body=body)
        msg = message(token(), to=addr, body=body[:2000000])
        stored = stored_by_marker(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            r = c.command('APPEND INBOX {%d}' % len(msg), msg, '')
            assert_status(self, r, 'OK', 'APPENDUID')
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            t0 = time.monotonic()
            r = c.cmd('FETCH 1:* (RFC822.SIZE BODY.PEEK[])')
            secs = time.monotonic() - t0
            assert_status(self, r, 'OK')
            got = fetches(r)
            self.assertEqual(len(got), 3)
            self.assertEqual(sorted(got[n]['BODY[]'] for n in (1, 2)), sorted(stored.values()))
            self.assertEqual(got[3]['BODY[]'], msg)
            for f in got.values():
                self.assertEqual(int(f['RFC822.SIZE']), len(f['BODY[]']))
            print('\n     FETCH of %.1f MB in %.2f s' % (sum(len(f['BODY[]'])
                                                         for f in got.values()) / 1e6, secs),
                  flush=True)
            r = c.cmd('FETCH 2 (BODY.PEEK[TEXT]<3000000.100>)')
            self.assertEqual(fetches(r)[2]['BODY[TEXT]<3000000>'],
                             body[3000000:3000100])

    def test_bodystructure_and_sections(self):
        addr = acct('struct')
        marker = token()
        _, msg = deliver(self.srv, addr, msg=multipart(marker))
        stored = stored_by_marker(self.srv, addr)[marker]
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            r = c.cmd('FETCH 1 (BODYSTRUCTURE ENVELOPE)')
            assert_status(self, r, 'OK')
            f = fetches(r)[1]
            f.update(fetches(c.cmd('FETCH 1 BODY'))[1])
            bs = f['BODYSTRUCTURE']
            # ("text" "plain" ...) ("text" "html" ...) ("application" ...) ("message" ...) "mixed"
            self.assertEqual(len(bs), 4 + 1 + 4, 'multipart/mixed with 4 parts + extension '
                             'data (params, disposition, language, location): %r' % bs)
            self.assertEqual(bs[4].lower(), b'mixed')
            self.assertEqual([p.lower() for p in bs[5]], [b'boundary', b'==b1=='])
            p1, p2, p3, p4 = bs[:4]
            self.assertEqual((p1[0].lower(), p1[1].lower()), (b'text', b'plain'))
            self.assertEqual([x.lower() for x in p1[2]], [b'charset', b'iso-8859-1'])
            self.assertEqual(p1[5].lower(), b'quoted-printable')
            self.assertEqual((p2[0].lower(), p2[1].lower()), (b'text', b'html'))
            self.assertEqual((p3[0].lower(), p3[1].lower()), (b'application', b'octet-stream'))
            self.assertEqual(p3[5].lower(), b'base64')
            self.assertEqual([x.lower() for x in p3[2]], [b'name', b'data.bin'])
            # Extension data of a single part: md5, disposition, language, location.
            self.assertEqual(p3[7], None)
            self.assertEqual(p3[8][0].lower(), b'attachment', p3)
            self.assertEqual([x.lower() for x in p3[8][1]], [b'filename', b'data.bin'])
            self.assertEqual((p4[0].lower(), p4[1].lower()), (b'message', b'rfc822'))
            # message/rfc822: ... size, envelope, body, lines.
            # The part ends before the CRLF that belongs to the next boundary line.
            part4 = NESTED[:-2]
            self.assertEqual(p4[6], str(len(part4)), 'size of the message/rfc822 part')
            self.assertEqual(p4[7][1], b'the forwarded one', 'envelope of the inner message')
            self.assertEqual((p4[8][0].lower(), p4[8][1].lower()), (b'text', b'plain'))
            self.assertIn(p4[9], (str(part4.count(b'\r\n')), str(part4.count(b'\r\n') + 1)),
                          'lines of message/rfc822')
            # text parts carry their size and line count.
            sections = c.cmd('FETCH 1 (BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[3] BODY.PEEK[4])')
            fs = fetches(sections)[1]
            self.assertEqual(p1[6], str(len(fs['BODY[1]'])))
            n1 = fs['BODY[1]'].count(b'\r\n')
            self.assertIn(p1[7], (str(n1), str(n1 + 1)), 'lines of part 1')
            self.assertEqual(p3[6], str(len(fs['BODY[3]'])))
            self.assertEqual(fs['BODY[4]'], part4)
            self.assertEqual(base64.b64decode(fs['BODY[3]']), ATTACHMENT)
            self.assertIn(b'Caf=E9 au lait', fs['BODY[1]'])
            self.assertEqual(fs['BODY[2]'], b'<p>hello</p>')
            # BODY (no extension data) is BODYSTRUCTURE without the extensions.
            body = f['BODY']
            self.assertEqual(len(body), 5, 'BODY of a multipart: parts + subtype only: %r'
                             % body)
            self.assertEqual(len(body[0]), 8, 'BODY of a text part: 8 fields: %r' % body[0])
            # ENVELOPE: date subject from sender reply-to to cc bcc in-reply-to message-id.
            env = f['ENVELOPE']
            self.assertEqual(env[0], b'Thu, 1 Jan 2026 09:30:00 +0900')
            self.assertEqual(env[1], ('=?UTF-8?B?5pel5pys6Kqe?= multipart ' + marker).encode(),
                             'IMAP4rev1 ENVELOPE subject is the raw header')
            self.assertEqual(env[2], [[b'Sato, Hanako', None, b'hanako', b'remote.test']])
            self.assertEqual(env[3], [[None, None, b'list', b'remote.test']])
            self.assertEqual(env[4], [[None, None, b'replies', b'remote.test']])
            self.assertEqual(env[5], [[None, None, b'alice', b'example.test'],
                                      [b'Bob B.', None, b'bob', b'example.test']])
            self.assertEqual(env[6], [[None, None, b'carol', b'example.test']])
            self.assertIsNone(env[7])
            self.assertEqual(env[8], b'<earlier@remote.test>')
            self.assertEqual(env[9], ('<%s@remote.test>' % marker).encode())
            # MIME headers of a part, nested message parts.
            r = c.cmd('FETCH 1 (BODY.PEEK[1.MIME] BODY.PEEK[4.HEADER] BODY.PEEK[4.TEXT] '
                      'BODY.PEEK[4.1] BODY.PEEK[4.HEADER.FIELDS (Subject)] BODY.PEEK[3.MIME])')
            assert_status(self, r, 'OK')
            fs = fetches(r)[1]
            self.assertEqual(fs['BODY[1.MIME]'], b'Content-Type: text/plain; charset=iso-8859-1'
                             b'\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n')
            inner_hdr, inner_text = part4.split(b'\r\n\r\n', 1)
            self.assertEqual(fs['BODY[4.HEADER]'], inner_hdr + b'\r\n\r\n')
            self.assertEqual(fs['BODY[4.TEXT]'], inner_text)
            self.assertEqual(fs['BODY[4.1]'], inner_text)
            self.assertEqual(fs['BODY[4.HEADER.FIELDS (SUBJECT)]'],
                             b'Subject: the forwarded one\r\n\r\n')
            self.assertTrue(fs['BODY[3.MIME]'].startswith(b'Content-Type: application/'))
            # HEADER.FIELDS and .NOT of the whole message (field names case-insensitive).
            r = c.cmd('FETCH 1 (BODY.PEEK[HEADER.FIELDS (from SUBJECT X-Absent)] '
                      'BODY.PEEK[HEADER.FIELDS.NOT (Received Return-Path Content-Type)])')
            fs = fetches(r)[1]
            hf = [v for k, v in fs.items() if k.startswith('BODY[HEADER.FIELDS (')][0]
            self.assertEqual(hf, b'From: "Sato, Hanako" <hanako@remote.test>\r\n'
                                 b'Subject: =?UTF-8?B?5pel5pys6Kqe?= multipart ' +
                             marker.encode() + b'\r\n\r\n')
            hn = [v for k, v in fs.items() if k.startswith('BODY[HEADER.FIELDS.NOT')][0]
            self.assertNotIn(b'Received:', hn)
            self.assertNotIn(b'Return-Path:', hn)
            self.assertNotIn(b'Content-Type:', hn)
            self.assertIn(b'Message-ID: <' + marker.encode(), hn)
            self.assertTrue(hn.endswith(b'\r\n\r\n'))
            # Whole-message sections agree with the stored bytes.
            r = c.cmd('FETCH 1 (BODY.PEEK[] BODY.PEEK[TEXT])')
            fs = fetches(r)[1]
            self.assertEqual(fs['BODY[]'], stored)
            self.assertEqual(fs['BODY[TEXT]'], stored.split(b'\r\n\r\n', 1)[1])
            self.assertTrue(stored.endswith(msg))
            # A part that does not exist: empty string or NIL, not an error.
            r = c.cmd('FETCH 1 (BODY.PEEK[9])')
            assert_status(self, r, 'OK')
            self.assertIn(fetches(r)[1]['BODY[9]'], (b'', None))
            # Bad section syntax: BAD.
            for bad in ('BODY[1.]', 'BODY[HEADER.FIELDS]', 'BODY[0]', 'BODY[TEXT', 'BODY[]<5>',
                        'BODY[]<1.0.2>'):
                r = c.cmd('FETCH 1 (%s)' % bad)
                assert_status(self, r, 'BAD', msg='FETCH 1 (%s)' % bad)

    def test_body_and_bodystructure_together(self):
        addr = acct('both')
        deliver(self.srv, addr, msg=multipart(token()))
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('EXAMINE INBOX'), 'OK')
            r = c.cmd('FETCH 1 (BODY BODYSTRUCTURE)')
            assert_status(self, r, 'OK')
            self.assertEqual(sorted(fetches(r)[1]), ['BODY', 'BODYSTRUCTURE'],
                             'FETCH (BODY BODYSTRUCTURE) must return both items: %r' % r)

    def test_partial_and_binary(self):
        addr = acct('partial')
        marker = token()
        deliver(self.srv, addr, msg=multipart(marker))
        stored = stored_by_marker(self.srv, addr)[marker]
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            r = c.cmd('FETCH 1 (BODY.PEEK[]<0.10> BODY.PEEK[]<100.50> BODY.PEEK[TEXT]<5.7>)')
            assert_status(self, r, 'OK')
            fs = fetches(r)[1]
            self.assertEqual(fs['BODY[]<0>'], stored[:10])
            self.assertEqual(fs['BODY[]<100>'], stored[100:150])
            self.assertEqual(fs['BODY[TEXT]<5>'], stored.split(b'\r\n\r\n', 1)[1][5:12])
            # Beyond the end: an empty string (RFC 9051 6.4.5).
            r = c.cmd('FETCH 1 (BODY.PEEK[]<%d.10>)' % (len(stored) + 100))
            assert_status(self, r, 'OK')
            self.assertEqual(fetches(r)[1]['BODY[]<%d>' % (len(stored) + 100)], b'')
            # Partial that runs over the end: what is there.
            r = c.cmd('FETCH 1 (BODY.PEEK[]<%d.1000>)' % (len(stored) - 5))
            self.assertEqual(fetches(r)[1]['BODY[]<%d>' % (len(stored) - 5)], stored[-5:])
            # BINARY: the decoded content; BINARY.SIZE its length.
            r = c.cmd('FETCH 1 (BINARY.PEEK[3] BINARY.SIZE[3] BINARY.PEEK[1] BINARY.SIZE[1] '
                      'BINARY.PEEK[2])')
            assert_status(self, r, 'OK')
            fs = fetches(r)[1]
            self.assertEqual(fs['BINARY[3]'], ATTACHMENT, 'BINARY[3] is not the decoded '
                             'attachment')
            self.assertEqual(int(fs['BINARY.SIZE[3]']), len(ATTACHMENT))
            self.assertEqual(fs['BINARY[1]'], ('Café au lait, marker %s\r\nsecond line '
                                               'continued' % marker).encode('latin-1'))
            self.assertEqual(int(fs['BINARY.SIZE[1]']), len(fs['BINARY[1]']))
            self.assertEqual(fs['BINARY[2]'], b'<p>hello</p>')
            # NUL bytes travel as literal8 (~{n}).
            raw = [u.raw for u in r.untagged if b'FETCH' in u.raw][0]
            self.assertIn(b'BINARY[3] ~{%d}' % len(ATTACHMENT), raw)
            # BINARY partial.
            r = c.cmd('FETCH 1 (BINARY.PEEK[3]<10.20>)')
            self.assertEqual(fetches(r)[1]['BINARY[3]<10>'], ATTACHMENT[10:30])
            # BINARY of a multipart is not possible: BAD/NO; of a bad section: BAD.
            r = c.cmd('FETCH 1 (BINARY.PEEK[HEADER])')
            self.assertIn(r.status, ('BAD', 'NO'), r)

    def test_unknown_cte(self):
        addr = acct('binary')
        marker = token()
        msg = (b'From: x@remote.test\r\nSubject: odd ' + marker.encode() + b'\r\n'
               b'MIME-Version: 1.0\r\nContent-Type: text/plain\r\n'
               b'Content-Transfer-Encoding: x-uuencode-ish\r\n\r\nmarker ' + marker.encode() +
               b'\r\n')
        deliver(self.srv, addr, msg=msg)
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            r = c.cmd('FETCH 1 (BINARY.PEEK[1])')
            assert_status(self, r, 'NO', 'UNKNOWN-CTE')
            r = c.cmd('FETCH 1 (BODY.PEEK[1])')
            assert_status(self, r, 'OK', msg='BODY[1] of an unknown encoding is just bytes')

    def test_seen_flag(self):
        addr = acct('seen')
        for _ in range(5):
            deliver(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            # PEEK, RFC822.HEADER, RFC822.SIZE, BINARY.SIZE, ENVELOPE: no \Seen.
            r = c.cmd('FETCH 1 (BODY.PEEK[] RFC822.HEADER RFC822.SIZE ENVELOPE BINARY.SIZE[1] '
                      'BINARY.PEEK[1])')
            assert_status(self, r, 'OK')
            self.assertNotIn('FLAGS', fetches(r)[1], 'a peek reported a flag change')
            r = c.cmd('FETCH 1 FLAGS')
            self.assertNotIn('\\Seen', fetches(r)[1]['FLAGS'])
            # BODY[] sets \Seen and says so in the same response.
            r = c.cmd('FETCH 2 BODY[]')
            assert_status(self, r, 'OK')
            self.assertIn('\\Seen', fetches(r)[2].get('FLAGS', []),
                          'BODY[] set \\Seen without reporting FLAGS: %r' % r)
            for item, n in (('RFC822', 3), ('RFC822.TEXT', 4), ('BODY[TEXT]', 5)):
                r = c.cmd('FETCH %d %s' % (n, item))
                self.assertIn('\\Seen', fetches(r)[n].get('FLAGS', []), item)
            r = c.cmd('FETCH 1:5 FLAGS')
            flags = {n: '\\Seen' in f['FLAGS'] for n, f in fetches(r).items()}
            self.assertEqual(flags, {1: False, 2: True, 3: True, 4: True, 5: True})
            # A second non-PEEK fetch of a seen message does not repeat FLAGS.
            r = c.cmd('FETCH 2 BODY[HEADER]')
            self.assertNotIn('FLAGS', fetches(r)[2])
            # EXAMINE: read-only, BODY[] must not set \Seen.
            assert_status(self, c.cmd('EXAMINE INBOX'), 'OK', 'READ-ONLY')
            r = c.cmd('FETCH 1 BODY[]')
            assert_status(self, r, 'OK')
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            r = c.cmd('FETCH 1 FLAGS')
            self.assertNotIn('\\Seen', fetches(r)[1]['FLAGS'], 'EXAMINE + BODY[] set \\Seen')
            r = c.cmd('STATUS INBOX (UNSEEN)')
            self.assertIn('UNSEEN 1', r.lines('STATUS')[0])

    def test_items_and_macros(self):
        addr = acct('items')
        deliver(self.srv, addr)
        msg = b'Subject: appended\r\nFrom: me@example.test\r\n\r\nhi\r\n'
        with logged_in(self.srv, addr) as c:
            r = c.command('APPEND INBOX (\\Draft $Todo) "05-Mar-2024 13:14:15 -0230" {%d}'
                          % len(msg), msg, '')
            assert_status(self, r, 'OK', 'APPENDUID')
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            r = c.cmd('FETCH 2 (UID FLAGS INTERNALDATE RFC822.SIZE)')
            f = fetches(r)[2]
            self.assertEqual(f['UID'], '2')
            self.assertEqual(sorted(f['FLAGS']), ['$Todo', '\\Draft'])
            self.assertEqual(f['INTERNALDATE'], b'05-Mar-2024 15:44:15 +0000',
                             'INTERNALDATE (zone -0230 given at APPEND, shown in UTC)')
            self.assertEqual(f['RFC822.SIZE'], str(len(msg)))
            r = c.cmd('FETCH 1:2 ALL')
            for n, f in fetches(r).items():
                self.assertEqual(sorted(f), ['ENVELOPE', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
                                 'FETCH ALL')
            r = c.cmd('FETCH 1:2 FAST')
            for f in fetches(r).values():
                self.assertEqual(sorted(f), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'])
            r = c.cmd('FETCH 1 FULL')
            self.assertEqual(sorted(fetches(r)[1]), ['BODY', 'ENVELOPE', 'FLAGS', 'INTERNALDATE',
                                                     'RFC822.SIZE'])
            # UID FETCH always includes UID; FETCH * and ranges.
            r = c.cmd('UID FETCH 1:* FLAGS')
            self.assertEqual(sorted(f['UID'] for f in fetches(r).values()), ['1', '2'])
            r = c.cmd('FETCH * UID')
            self.assertEqual(fetches(r), {2: {'UID': '2'}})
            r = c.cmd('FETCH 2:1 UID')
            self.assertEqual(sorted(fetches(r)), [1, 2], '2:1 is the same as 1:2')
            # UID FETCH of UIDs that do not exist: OK, nothing.
            r = c.cmd('UID FETCH 100:200 FLAGS')
            assert_status(self, r, 'OK')
            self.assertEqual(fetches(r), {})
            r = c.cmd('FETCH 1 (FLAGS BOGUS)')
            assert_status(self, r, 'BAD')
            r = c.cmd('FETCH 1')
            assert_status(self, r, 'BAD')
            r = c.cmd('FETCH x FLAGS')
            assert_status(self, r, 'BAD')

    def test_invalid_sequence_numbers(self):
        addr = acct('invalid')
        deliver(self.srv, addr)
        deliver(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            for line in ('FETCH 3 FLAGS', 'FETCH 1:3 FLAGS', 'FETCH 0 FLAGS',
                         'STORE 5 +FLAGS (\\Seen)', 'COPY 9 Trash', 'MOVE 3 Trash',
                         'FETCH 4294967296 FLAGS'):
                r = c.cmd(line)
                self.assertIn(r.status, ('BAD', 'NO'), '%s with 2 messages: %r' % (line, r))
                self.assertEqual(fetches(r), {}, line)
            assert_status(self, c.cmd('NOOP'), 'OK')
            r = c.cmd('STATUS INBOX (MESSAGES)')
            self.assertIn('MESSAGES 2', r.lines('STATUS')[0], 'something moved anyway')
        # imaplib raises for BAD.
        m = imap(self.srv, addr)
        m.select('INBOX')
        with self.assertRaises(imaplib.IMAP4.error):
            m.fetch('7', '(FLAGS)')
        m.logout()


class ImapChanges(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[acct(n) for n in ('append', 'store', 'condstore', 'copy',
                                                   'move', 'expunge', 'close', 'readonly')],
                       config={'max-message-size': 200000})

    def test_append(self):
        addr = acct('append')
        with logged_in(self.srv, addr) as c:
            r = c.cmd('SELECT INBOX')
            uidvalidity = re.search(r'UIDVALIDITY (\d+)', ' '.join(r.lines('OK'))).group(1)
            msg = message(token(), to=addr)
            r = c.command('APPEND INBOX (\\Seen) {%d}' % len(msg), msg, '')
            assert_status(self, r, 'OK', 'APPENDUID')
            self.assertEqual(r.code, 'APPENDUID %s 1' % uidvalidity)
            self.assertIn('1 EXISTS', r.lines(), 'APPEND to the selected mailbox: no EXISTS')
            r = c.cmd('UID FETCH 1 (BODY.PEEK[] FLAGS)')
            f = fetches(r)[1]
            self.assertEqual(f['BODY[]'], msg, 'APPEND stored other bytes')
            self.assertEqual(f['FLAGS'], ['\\Seen'])
            # A message with bare LF line ends is stored with CRLF.
            lf = b'Subject: lf\n\nline 1\nline 2\n'
            r = c.command('APPEND INBOX {%d}' % len(lf), lf, '')
            assert_status(self, r, 'OK')
            r = c.cmd('FETCH 2 BODY.PEEK[]')
            self.assertEqual(fetches(r)[2]['BODY[]'], lf.replace(b'\n', b'\r\n'))
            # Non-synchronizing literal (LITERAL-, up to 4096 bytes).
            r = c.command('APPEND Drafts (\\Draft) {%d+}' % len(msg), msg, '')
            assert_status(self, r, 'OK', 'APPENDUID')
            # Errors.
            r = c.command('APPEND Nowhere {%d}' % len(msg), msg, '')
            assert_status(self, r, 'NO', 'TRYCREATE')
            r = c.command('APPEND INBOX (\\Bogus) {%d}' % len(msg), msg, '')
            assert_status(self, r, 'BAD')
            r = c.command('APPEND INBOX "31-Feb-2024 00:00:00 +0000" {%d}' % len(msg), msg, '')
            assert_status(self, r, 'BAD', msg='APPEND with an impossible date')
            r = c.command('APPEND INBOX "yesterday" {%d}' % len(msg), msg, '')
            assert_status(self, r, 'BAD')
            r = c.cmd('APPEND INBOX')
            assert_status(self, r, 'BAD')
            # Bigger than APPENDLIMIT: refused before the data is sent.
            c.send('big APPEND INBOX {300000}\r\n')
            r = c.until_tagged('big')
            assert_status(self, r, 'NO', 'TOOBIG')
            assert_status(self, c.cmd('NOOP'), 'OK', msg='session after TOOBIG')
            r = c.cmd('STATUS INBOX (MESSAGES)')
            self.assertIn('MESSAGES 2', r.lines('STATUS')[0])
        # imaplib append with a date and flags.
        m = imap(self.srv, addr)
        typ, data = m.append('INBOX', '(\\Flagged)', imaplib.Time2Internaldate(1700000000),
                             message(token(), to=addr))
        self.assertEqual(typ, 'OK', data)
        self.assertRegex(data[0].decode(), r'^\[APPENDUID \d+ 3\]')
        m.logout()

    def test_store(self):
        addr = acct('store')
        for _ in range(4):
            deliver(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            r = c.cmd('STORE 1 +FLAGS (\\Flagged \\Seen)')
            assert_status(self, r, 'OK')
            self.assertEqual(sorted(fetches(r)[1]['FLAGS']), ['\\Flagged', '\\Seen'])
            r = c.cmd('STORE 1 -FLAGS (\\Seen)')
            self.assertEqual(fetches(r)[1]['FLAGS'], ['\\Flagged'])
            r = c.cmd('STORE 1 FLAGS (\\Answered $Label1 NonJunk)')
            self.assertEqual(sorted(fetches(r)[1]['FLAGS']), ['$Label1', 'NonJunk', '\\Answered'])
            # .SILENT: no FETCH for our own change.
            r = c.cmd('STORE 2:3 +FLAGS.SILENT (\\Deleted)')
            assert_status(self, r, 'OK')
            self.assertEqual(fetches(r), {}, 'FLAGS.SILENT answered with FETCH')
            r = c.cmd('FETCH 2:3 FLAGS')
            for f in fetches(r).values():
                self.assertEqual(f['FLAGS'], ['\\Deleted'])
            # Flag names are case-insensitive; \Recent may not be stored and is ignored.
            r = c.cmd('STORE 4 +FLAGS (\\seen \\FLAGGED)')
            self.assertEqual(sorted(fetches(r)[4]['FLAGS']), ['\\Flagged', '\\Seen'])
            # Keywords show up in FLAGS/PERMANENTFLAGS at the next SELECT.
            r = c.cmd('SELECT INBOX')
            flags_line = r.lines('FLAGS')[0]
            self.assertIn('$Label1', flags_line)
            self.assertIn('NonJunk', flags_line)
            self.assertTrue(any('PERMANENTFLAGS' in l and '\\*' in l for l in r.lines('OK')), r)
            # UID STORE.
            r = c.cmd('UID STORE 4 -FLAGS (\\Flagged)')
            f = fetches(r)[4]
            self.assertEqual(f['UID'], '4', 'UID STORE response without UID')
            self.assertEqual(f['FLAGS'], ['\\Seen'])
            r = c.cmd('UID STORE 99 +FLAGS (\\Seen)')
            assert_status(self, r, 'OK', msg='UID STORE of a UID that does not exist')
            # Errors.
            for bad in ('STORE 1 +FLAGS (\\Bogus)', 'STORE 1 FROB (\\Seen)', 'STORE 1 +FLAGS',
                        'STORE 1 +FLAGS ("quoted")', 'STORE 1 +FLAGS (a]b)'):
                r = c.cmd(bad)
                assert_status(self, r, 'BAD', msg=bad)
            # imaplib.
        m = imap(self.srv, addr)
        m.select('INBOX')
        typ, data = m.store('1', '+FLAGS', '(\\Draft)')
        self.assertEqual(typ, 'OK')
        self.assertIn(b'\\Draft', data[0])
        m.logout()

    def test_condstore(self):
        addr = acct('condstore')
        for _ in range(3):
            deliver(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            r = c.cmd('SELECT INBOX (CONDSTORE)')
            assert_status(self, r, 'OK')
            m = re.search(r'HIGHESTMODSEQ (\d+)', ' '.join(r.lines('OK')))
            self.assertTrue(m, 'SELECT (CONDSTORE) without HIGHESTMODSEQ: %r' % r)
            high = int(m.group(1))
            r = c.cmd('FETCH 1:* (MODSEQ)')
            mods = {n: int(f['MODSEQ'][0]) for n, f in fetches(r).items()}
            self.assertEqual(len(mods), 3)
            self.assertLessEqual(max(mods.values()), high)
            r = c.cmd('STORE 2 +FLAGS (\\Flagged)')
            f = fetches(r)[2]
            self.assertIn('MODSEQ', f, 'STORE response without MODSEQ under CONDSTORE: %r' % r)
            m2 = int(f['MODSEQ'][0])
            self.assertGreater(m2, high)
            # CHANGEDSINCE: only what changed after.
            r = c.cmd('FETCH 1:* (FLAGS) (CHANGEDSINCE %d)' % high)
            assert_status(self, r, 'OK')
            self.assertEqual(sorted(fetches(r)), [2])
            r = c.cmd('UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)' % m2)
            self.assertEqual(fetches(r), {})
            # UNCHANGEDSINCE: a message changed since is not stored, [MODIFIED] names it.
            r = c.cmd('STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)' % high)
            assert_status(self, r, 'OK', 'MODIFIED')
            self.assertEqual(r.code, 'MODIFIED 2')
            r = c.cmd('FETCH 1:3 FLAGS')
            fl = {n: f['FLAGS'] for n, f in fetches(r).items()}
            self.assertIn('\\Seen', fl[1])
            self.assertIn('\\Seen', fl[3])
            self.assertEqual(fl[2], ['\\Flagged'], 'STORE changed a [MODIFIED] message')
            r = c.cmd('UID STORE 2 (UNCHANGEDSINCE %d) FLAGS (\\Answered)'
                      % int(fetches(c.cmd('FETCH 2 MODSEQ'))[2]['MODSEQ'][0]))
            assert_status(self, r, 'OK')
            self.assertIsNone(r.code)
            r = c.cmd('SEARCH MODSEQ %d' % (high + 1))
            assert_status(self, r, 'OK')
            self.assertRegex(r.lines('SEARCH')[0], r'^SEARCH [0-9 ]+ \(MODSEQ \d+\)$')
            r = c.cmd('STATUS INBOX (HIGHESTMODSEQ)')
            self.assertGreater(int(re.search(r'HIGHESTMODSEQ (\d+)', r.lines('STATUS')[0])
                                   .group(1)), m2)
            r = c.cmd('STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)')
            assert_status(self, r, 'BAD')

    def test_copy(self):
        addr = acct('copy')
        for _ in range(3):
            deliver(self.srv, addr)
        stored = stored_by_marker(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            assert_status(self, c.cmd('STORE 2 +FLAGS (\\Flagged $Keep)'), 'OK')
            arch = c.cmd('STATUS Archive (UIDVALIDITY UIDNEXT)').lines('STATUS')[0]
            uv = re.search(r'UIDVALIDITY (\d+)', arch).group(1)
            r = c.cmd('COPY 2:3 Archive')
            assert_status(self, r, 'OK', 'COPYUID')
            self.assertEqual(copyuid(r.code), (uv, [2, 3], [1, 2]), r)
            r = c.cmd('UID COPY 1 Archive')
            assert_status(self, r, 'OK', 'COPYUID')
            self.assertEqual(copyuid(r.code), (uv, [1], [3]), r)
            r = c.cmd('COPY 1 Nowhere')
            assert_status(self, r, 'NO', 'TRYCREATE')
            r = c.cmd('COPY 1')
            assert_status(self, r, 'BAD')
            r = c.cmd('STATUS INBOX (MESSAGES)')
            self.assertIn('MESSAGES 3', r.lines('STATUS')[0], 'COPY removed from the source')
            assert_status(self, c.cmd('SELECT Archive'), 'OK')
            r = c.cmd('UID FETCH 1 (FLAGS)')
            self.assertEqual(sorted(fetches(r)[1]['FLAGS']), ['$Keep', '\\Flagged'],
                             'COPY did not keep the flags')
        self.assertEqual(stored_by_marker(self.srv, addr, 'Archive'), stored,
                         'the copies differ from the originals')

    def test_move(self):
        addr = acct('move')
        for _ in range(4):
            deliver(self.srv, addr)
        stored = stored_by_marker(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            uv = re.search(r'UIDVALIDITY (\d+)',
                           c.cmd('STATUS Trash (UIDVALIDITY)').lines('STATUS')[0]).group(1)
            r = c.cmd('MOVE 2:3 Trash')
            assert_status(self, r, 'OK')
            untagged = [u.line for u in r.untagged]
            codes = [re.match(r'^\* OK \[(COPYUID [^\]]*)\]', l) for l in untagged]
            codes = [m.group(1) for m in codes if m]
            self.assertEqual([copyuid(x) for x in codes], [(uv, [2, 3], [1, 2])], r)
            exp = [l for l in untagged if l.endswith(' EXPUNGE')]
            self.assertEqual(len(exp), 2, 'MOVE of 2 messages: two EXPUNGE: %r' % r)
            self.assertTrue(untagged.index([l for l in untagged if 'COPYUID' in l][0]) <
                            untagged.index(exp[0]), 'COPYUID must come before the EXPUNGEs')
            r = c.cmd('UID MOVE 4 Junk')
            assert_status(self, r, 'OK')
            self.assertIn('* 2 EXPUNGE', [u.line for u in r.untagged])
            r = c.cmd('MOVE 1 Nowhere')
            assert_status(self, r, 'NO', 'TRYCREATE')
            r = c.cmd('FETCH 1:* UID')
            self.assertEqual([f['UID'] for f in fetches(r).values()], ['1'])
            assert_status(self, c.cmd('EXAMINE INBOX'), 'OK', 'READ-ONLY')
            r = c.cmd('MOVE 1 Trash')
            assert_status(self, r, 'NO', 'READ-ONLY')
        self.assertEqual(len(stored_by_marker(self.srv, addr)), 1)
        moved = stored_by_marker(self.srv, addr, 'Trash')
        moved.update(stored_by_marker(self.srv, addr, 'Junk'))
        self.assertEqual(len(moved), 3)
        for k, v in moved.items():
            self.assertEqual(v, stored[k], 'MOVE changed a message')

    def test_expunge(self):
        addr = acct('expunge')
        for _ in range(6):
            deliver(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            assert_status(self, c.cmd('STORE 2,4 +FLAGS.SILENT (\\Deleted)'), 'OK')
            r = c.cmd('EXPUNGE')
            assert_status(self, r, 'OK')
            exp = [u.line for u in r.untagged if u.line.endswith('EXPUNGE')]
            # Either order is valid as long as each number is right when it is sent.
            self.assertIn(exp, (['* 4 EXPUNGE', '* 2 EXPUNGE'], ['* 2 EXPUNGE', '* 3 EXPUNGE']),
                          r)
            r = c.cmd('FETCH 1:* UID')
            self.assertEqual([f['UID'] for _, f in sorted(fetches(r).items())],
                             ['1', '3', '5', '6'])
            # UID EXPUNGE: only the given UIDs, and only if \Deleted.
            assert_status(self, c.cmd('UID STORE 3,5 +FLAGS.SILENT (\\Deleted)'), 'OK')
            r = c.cmd('UID EXPUNGE 1:3')
            assert_status(self, r, 'OK')
            self.assertEqual([u.line for u in r.untagged if u.line.endswith('EXPUNGE')],
                             ['* 2 EXPUNGE'])
            r = c.cmd('UID FETCH 1:* UID')
            self.assertEqual(sorted(f['UID'] for f in fetches(r).values()), ['1', '5', '6'])
            r = c.cmd('UID EXPUNGE')
            assert_status(self, r, 'BAD')
            r = c.cmd('EXPUNGE')
            self.assertEqual([u.line for u in r.untagged if u.line.endswith('EXPUNGE')],
                             ['* 2 EXPUNGE'])
            r = c.cmd('EXPUNGE')
            assert_status(self, r, 'OK', msg='EXPUNGE with nothing to expunge')
            self.assertEqual(r.untagged, [])
        self.assertEqual(len(stored_by_marker(self.srv, addr)), 2)

    def test_close_unselect_check(self):
        addr = acct('close')
        for _ in range(4):
            deliver(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            assert_status(self, c.cmd('STORE 1 +FLAGS (\\Deleted)'), 'OK')
            assert_status(self, c.cmd('CHECK'), 'OK')
            r = c.cmd('UNSELECT')
            assert_status(self, r, 'OK')
            self.assertFalse([u for u in r.untagged if 'EXPUNGE' in u.line])
            assert_status(self, c.cmd('FETCH 1 FLAGS'), 'BAD', msg='FETCH after UNSELECT')
            r = c.cmd('STATUS INBOX (MESSAGES DELETED)')
            self.assertIn('MESSAGES 4', r.lines('STATUS')[0], 'UNSELECT expunged')
            # EXAMINE + CLOSE does not expunge either.
            assert_status(self, c.cmd('EXAMINE INBOX'), 'OK')
            assert_status(self, c.cmd('CLOSE'), 'OK')
            r = c.cmd('STATUS INBOX (MESSAGES)')
            self.assertIn('MESSAGES 4', r.lines('STATUS')[0], 'CLOSE after EXAMINE expunged')
            # SELECT + CLOSE expunges, silently.
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            r = c.cmd('CLOSE')
            assert_status(self, r, 'OK')
            self.assertFalse([u for u in r.untagged if 'EXPUNGE' in u.line],
                             'CLOSE sent EXPUNGE responses: %r' % r)
            assert_status(self, c.cmd('NOOP'), 'OK')
            r = c.cmd('STATUS INBOX (MESSAGES)')
            self.assertIn('MESSAGES 3', r.lines('STATUS')[0], 'CLOSE did not expunge')
            assert_status(self, c.cmd('CLOSE'), 'BAD', msg='CLOSE with nothing selected')
            # SELECT of another mailbox while one is selected: [CLOSED] (IMAP4rev2/QRESYNC)
            # is optional, but the new one must be selected.
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            r = c.cmd('SELECT Trash')
            assert_status(self, r, 'OK')
            self.assertIn('0 EXISTS', r.lines())
            # A failed SELECT leaves no mailbox selected (RFC 9051 6.3.2).
            r = c.cmd('SELECT Nowhere')
            assert_status(self, r, 'NO', 'NONEXISTENT')
            assert_status(self, c.cmd('FETCH 1 FLAGS'), 'BAD')

    def test_examine_read_only(self):
        addr = acct('readonly')
        deliver(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            r = c.cmd('EXAMINE INBOX')
            assert_status(self, r, 'OK', 'READ-ONLY')
            for line in ('STORE 1 +FLAGS (\\Seen)', 'UID STORE 1 +FLAGS.SILENT (\\Deleted)',
                         'EXPUNGE', 'UID EXPUNGE 1', 'MOVE 1 Trash'):
                r = c.cmd(line)
                assert_status(self, r, 'NO', 'READ-ONLY', msg=line + ' after EXAMINE')
            r = c.cmd('COPY 1 Archive')
            assert_status(self, r, 'OK', msg='COPY from a read-only mailbox')
            r = c.cmd('SELECT INBOX')
            assert_status(self, r, 'OK', 'READ-WRITE')
            r = c.cmd('FETCH 1 FLAGS')
            self.assertEqual(fetches(r)[1]['FLAGS'], [])


class ImapQuota(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=['quota@' + DOMAIN, 'roomy@' + DOMAIN],
                       config={'default-quota': 40000})

    def usage(self, addr):
        out = self.srv.run('account', 'list').stdout.decode()
        m = re.search(r'^%s\t(\d+) bytes used of (\d+)' % re.escape(addr), out, re.M)
        self.assertTrue(m, out)
        return int(m.group(1)), int(m.group(2))

    def test_quota_errors(self):
        with logged_in(self.srv, 'roomy@' + DOMAIN) as c:
            r = c.cmd('GETQUOTAROOT Nowhere')
            self.assertEqual(r.status, 'NO', 'GETQUOTAROOT of a mailbox that does not exist '
                             '(RFC 9208 4.3.2): %r' % r)
            r = c.cmd('GETQUOTA "no-such-root"')
            self.assertEqual(r.status, 'NO', 'GETQUOTA of an unknown quota root: %r' % r)

    def test_quota(self):
        addr = 'quota@' + DOMAIN
        deliver(self.srv, addr)
        used, limit = self.usage(addr)
        self.assertEqual(limit, 40000)
        with logged_in(self.srv, addr) as c:
            r = c.cmd('GETQUOTAROOT INBOX')
            assert_status(self, r, 'OK')
            roots = r.lines('QUOTAROOT')
            self.assertEqual(len(roots), 1, r)
            m = re.match(r'^QUOTAROOT "?INBOX"? ("[^"]*"|\S+)$', roots[0])
            self.assertTrue(m, roots)
            root = m.group(1)
            q = r.lines('QUOTA ')
            self.assertEqual(len(q), 1, r)
            m = re.match(r'^QUOTA ("[^"]*"|\S+) \(STORAGE (\d+) (\d+)\)$', q[0])
            self.assertTrue(m, q)
            self.assertEqual(m.group(1), root)
            self.assertEqual(int(m.group(3)), 40000 // 1024, 'STORAGE limit in KiB')
            self.assertEqual(int(m.group(2)), (used + 1023) // 1024, 'STORAGE usage in KiB')
            r = c.cmd('GETQUOTA %s' % root)
            assert_status(self, r, 'OK')
            self.assertEqual(r.lines('QUOTA '), q)
            r = c.cmd('SETQUOTA %s (STORAGE 100000)' % root)
            assert_status(self, r, 'NO')
            # APPEND over quota: NO [OVERQUOTA]; nothing stored.
            big = message(token(), to=addr, body=b'x' * 76 + b'\r\n') + \
                (b'y' * 998 + b'\r\n') * 45
            r = c.command('APPEND INBOX {%d}' % len(big), big, '')
            assert_status(self, r, 'NO', 'OVERQUOTA')
            self.assertEqual(self.usage(addr)[0], used)
            # A small one still fits.
            small = message(token(), to=addr)
            r = c.command('APPEND INBOX {%d}' % len(small), small, '')
            assert_status(self, r, 'OK')
            used2 = self.usage(addr)[0]
            self.assertEqual(used2, used + len(small))
            # COPY that would exceed the quota is refused as well.
            medium = message(token(), to=addr) + (b'z' * 998 + b'\r\n') * 15
            r = c.command('APPEND Archive {%d}' % len(medium), medium, '')
            assert_status(self, r, 'OK')
            assert_status(self, c.cmd('SELECT Archive'), 'OK')
            r = c.cmd('COPY 1 Trash')
            assert_status(self, r, 'OK')
            r = c.cmd('COPY 1:* Junk')
            self.assertEqual(r.status, 'NO', 'COPY beyond the quota: %r' % r)
            self.assertEqual(r.code_name, 'OVERQUOTA', r)
        # SMTP enforces the same quota.
        with smtplib.SMTP('127.0.0.1', self.srv.smtp_port, timeout=IO_TIMEOUT) as s:
            s.ehlo()
            s.mail(SENDER, ['SIZE=%d' % len(big)])
            code, text = s.rcpt(addr)
            self.assertEqual(code, 552, 'SMTP accepted what IMAP refuses: %r' % text)
        # The roomy account next door is not affected.
        m = imap(self.srv, 'roomy@' + DOMAIN)
        typ, data = m.getquotaroot('INBOX')
        self.assertEqual(typ, 'OK')
        m.logout()


if __name__ == '__main__':
    unittest.main()
