"""IMAP mailboxes: the folders every new account has (INBOX + Drafts/Sent/Trash/Junk/Archive
with special-use), LIST (patterns, reference, LIST-EXTENDED selection SUBSCRIBED/SPECIAL-USE,
RETURN (SUBSCRIBED CHILDREN STATUS (...))), LSUB, STATUS, CREATE (parents, CREATE-SPECIAL-USE),
DELETE, RENAME (children; INBOX), SUBSCRIBE/UNSUBSCRIBE, modified UTF-7 and UTF-8 names, and
the error codes: [NONEXISTENT], [ALREADYEXISTS], [TRYCREATE], [USEATTR], [CANNOT]."""

import base64
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa: E402
from imap_common import (assert_status, deliver, imap, logged_in,  # noqa: E402
                         ok, stored_by_marker)

DOMAIN = 'example.test'
SPECIAL = {'Drafts': '\\Drafts', 'Sent': '\\Sent', 'Trash': '\\Trash', 'Junk': '\\Junk',
           'Archive': '\\Archive'}
LIST_RE = re.compile(r'^(?:LIST|LSUB) \(([^)]*)\) (?:"/"|NIL) (.*)$')


def acct(name):
    return '%s@%s' % (name, DOMAIN)


def parse_list(res):
    """{name: set of attributes} from LIST/LSUB lines (quoted names unquoted)."""
    out = {}
    for l in res.lines('LIST') + res.lines('LSUB'):
        m = LIST_RE.match(l)
        if not m:
            raise AssertionError('LIST line not understood: %r' % l)
        name = m.group(2)
        if name.startswith('"'):
            name = re.sub(r'\\(.)', r'\1', name[1:-1])
        if name in out:
            raise AssertionError('mailbox %r listed twice: %r' % (name, res))
        out[name] = set(m.group(1).split())
    return out


def utf7_encode(name):
    """Modified UTF-7 of RFC 3501 5.1.3."""
    out, run = [], []

    def flush():
        if run:
            b = base64.b64encode(''.join(run).encode('utf-16-be')).decode().rstrip('=')
            out.append('&' + b.replace('/', ',') + '-')
            run.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append('&-' if ch == '&' else ch)
        else:
            run.append(ch)
    flush()
    return ''.join(out)


def parse_status(line):
    """'STATUS "name" (K V K V)' -> (name, {K: int})"""
    m = re.match(r'^STATUS ("(?:[^"\\]|\\.)*"|\S+) \(([^)]*)\)$', line)
    if not m:
        raise AssertionError('STATUS line not understood: %r' % line)
    name = m.group(1)
    if name.startswith('"'):
        name = re.sub(r'\\(.)', r'\1', name[1:-1])
    v = m.group(2).split()
    return name, {v[i].upper(): int(v[i + 1]) for i in range(0, len(v), 2)}


class ImapMailboxes(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[acct(n) for n in (
        'fresh', 'create', 'delete', 'rename', 'inboxren', 'subs', 'status', 'utf7',
        'liststatus', 'special')])

    def test_new_account_folders(self):
        with logged_in(self.srv, acct('fresh')) as c:
            r = c.cmd('LIST "" *')
            assert_status(self, r, 'OK')
            boxes = parse_list(r)
            self.assertEqual(sorted(boxes), sorted(['INBOX'] + list(SPECIAL)), r)
            for name, use in SPECIAL.items():
                self.assertIn(use, boxes[name], '%s without %s: %r' % (name, use, r))
                self.assertIn('\\HasNoChildren', boxes[name])
            self.assertFalse({a for a in boxes['INBOX'] if a in SPECIAL.values()})
            # LIST-EXTENDED selection: only the special-use ones.
            r = c.cmd('LIST (SPECIAL-USE) "" *')
            assert_status(self, r, 'OK')
            self.assertEqual(sorted(parse_list(r)), sorted(SPECIAL))
            # The hierarchy delimiter: LIST "" "".
            r = c.cmd('LIST "" ""')
            assert_status(self, r, 'OK')
            self.assertEqual(r.lines('LIST'), ['LIST (\\Noselect) "/" ""'])
            # INBOX is case-insensitive.
            for pat in ('inbox', 'InBoX', 'INBOX'):
                r = c.cmd('LIST "" %s' % pat)
                self.assertEqual(list(parse_list(r)), ['INBOX'], '%s: %r' % (pat, r))
            r = c.cmd('SELECT inbox')
            assert_status(self, r, 'OK', msg='SELECT inbox (lower case)')
            # Several patterns at once (LIST-EXTENDED).
            r = c.cmd('LIST "" (INBOX Sent Nonexistent)')
            assert_status(self, r, 'OK')
            self.assertEqual(sorted(parse_list(r)), ['INBOX', 'Sent'])
            # Every one of them is subscribed, and LSUB says so.
            r = c.cmd('LSUB "" *')
            assert_status(self, r, 'OK')
            self.assertEqual(sorted(parse_list(r)), sorted(['INBOX'] + list(SPECIAL)))
        # imaplib sees the same.
        m = imap(self.srv, acct('fresh'))
        data = ok(self, m.list(), 'LIST')
        self.assertEqual(len(data), 6, data)
        m.logout()

    def test_create_and_hierarchy(self):
        with logged_in(self.srv, acct('create')) as c:
            assert_status(self, c.cmd('CREATE Projects/2026/Q1'), 'OK')
            boxes = parse_list(c.cmd('LIST "" Projects*'))
            self.assertEqual(sorted(boxes), ['Projects', 'Projects/2026', 'Projects/2026/Q1'],
                             'CREATE did not make the parents')
            self.assertIn('\\HasChildren', boxes['Projects'])
            self.assertIn('\\HasChildren', boxes['Projects/2026'])
            self.assertIn('\\HasNoChildren', boxes['Projects/2026/Q1'])
            # Each new mailbox can be selected.
            for name in boxes:
                assert_status(self, c.cmd('SELECT "%s"' % name), 'OK', msg='SELECT ' + name)
            # "%" stops at the delimiter.
            r = c.cmd('LIST "" Projects/%')
            self.assertEqual(sorted(parse_list(r)), ['Projects/2026'])
            # The reference is prefixed to the pattern.
            r = c.cmd('LIST Projects 2026/*')
            self.assertEqual(sorted(parse_list(r)), ['Projects/2026/Q1'], r)
            # A trailing delimiter is allowed and names the same mailbox.
            assert_status(self, c.cmd('CREATE Other/'), 'OK')
            self.assertIn('Other', parse_list(c.cmd('LIST "" Other')))
            r = c.cmd('CREATE Projects')
            assert_status(self, r, 'NO', 'ALREADYEXISTS')
            r = c.cmd('CREATE Other/')
            assert_status(self, r, 'NO', 'ALREADYEXISTS')
            r = c.cmd('CREATE INBOX')
            assert_status(self, r, 'NO', 'ALREADYEXISTS')
            r = c.cmd('CREATE inbox')
            assert_status(self, r, 'NO', 'ALREADYEXISTS', msg='CREATE inbox (any case is INBOX)')
            r = c.cmd('CREATE Sent')
            assert_status(self, r, 'NO', 'ALREADYEXISTS')
            r = c.cmd('CREATE "a//b"')
            self.assertEqual(r.status, 'NO', 'an empty level in a name: %r' % r)
            r = c.cmd('CREATE')
            assert_status(self, r, 'BAD')
            # RFC 9051 6.3.4: a leading delimiter would make a mailbox with an empty name.
            r = c.cmd('CREATE "/lead"')
            self.assertEqual(r.status, 'NO', 'CREATE "/lead" (empty first level) accepted: %r'
                             % r)
            boxes = parse_list(c.cmd('LIST "" *'))
            self.assertNotIn('', boxes, 'a mailbox with an empty name exists: %r' % boxes)

    def test_create_special_use(self):
        with logged_in(self.srv, acct('special')) as c:
            r = c.cmd('CREATE "Sent Items" (USE (\\Sent))')
            assert_status(self, r, 'OK')
            boxes = parse_list(c.cmd('LIST (SPECIAL-USE) "" *'))
            self.assertIn('\\Sent', boxes.get('Sent Items', set()), boxes)
            r = c.cmd('LIST "" "Sent Items" RETURN (SPECIAL-USE)')
            assert_status(self, r, 'OK')
            self.assertIn('\\Sent', parse_list(r)['Sent Items'])
            r = c.cmd('CREATE Odd (USE (\\Bogus))')
            assert_status(self, r, 'NO', 'USEATTR')
            self.assertNotIn('Odd', parse_list(c.cmd('LIST "" *')), 'refused CREATE left a box')

    def test_delete(self):
        addr = acct('delete')
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('CREATE Old'), 'OK')
            r = c.command('APPEND Old {%d}' % len(b'Subject: x\r\n\r\nx\r\n'),
                          b'Subject: x\r\n\r\nx\r\n', '')
            assert_status(self, r, 'OK')
            assert_status(self, c.cmd('DELETE Old'), 'OK')
            self.assertNotIn('Old', parse_list(c.cmd('LIST "" *')))
            r = c.cmd('SELECT Old')
            assert_status(self, r, 'NO', 'NONEXISTENT')
            r = c.cmd('DELETE Old')
            assert_status(self, r, 'NO', 'NONEXISTENT')
            r = c.cmd('DELETE Nowhere')
            assert_status(self, r, 'NO', 'NONEXISTENT')
            r = c.cmd('DELETE INBOX')
            self.assertEqual(r.status, 'NO', r)
            self.assertNotEqual(r.code_name, 'SERVERBUG',
                                'DELETE INBOX is a refusal, not a server bug: %r' % r.tagged.line)
            self.assertIn('INBOX', parse_list(c.cmd('LIST "" *')))

    def test_delete_parent(self):
        with logged_in(self.srv, acct('delete')) as c:
            # Deleting a parent keeps its children; they stay reachable through LIST "%"
            # (RFC 9051 6.3.4 / 6.3.9: the parent is shown \Noselect or \NonExistent).
            assert_status(self, c.cmd('CREATE Parent/Child'), 'OK')
            r = c.cmd('DELETE Parent')
            self.assertIn(r.status, ('OK', 'NO'), r)
            boxes = parse_list(c.cmd('LIST "" *'))
            self.assertIn('Parent/Child', boxes, 'DELETE of the parent removed the child')
            if r.status == 'OK':
                top = parse_list(c.cmd('LIST "" %'))
                self.assertIn('Parent', top, 'after DELETE Parent, LIST "" %% does not show '
                              'Parent (\\Noselect/\\NonExistent), so Parent/Child cannot be '
                              'found level by level: %r' % sorted(top))
                self.assertTrue({'\\Noselect', '\\NonExistent'} & top['Parent'], top)
                r = c.cmd('SELECT Parent')
                self.assertEqual(r.status, 'NO', r)

    def test_rename(self):
        with logged_in(self.srv, acct('rename')) as c:
            assert_status(self, c.cmd('CREATE A/B/C'), 'OK')
            msg = b'Subject: in B\r\n\r\nbody\r\n'
            r = c.command('APPEND A/B {%d}' % len(msg), msg, '')
            assert_status(self, r, 'OK')
            before = parse_status(c.cmd('STATUS A/B (MESSAGES UIDVALIDITY)').lines('STATUS')[0])
            assert_status(self, c.cmd('RENAME A Z'), 'OK')
            boxes = parse_list(c.cmd('LIST "" *'))
            self.assertNotIn('A', boxes)
            self.assertNotIn('A/B', boxes)
            for name in ('Z', 'Z/B', 'Z/B/C'):
                self.assertIn(name, boxes, 'RENAME did not move the children: %r' % boxes)
            after = parse_status(c.cmd('STATUS Z/B (MESSAGES)').lines('STATUS')[0])
            self.assertEqual(after[1]['MESSAGES'], 1, 'messages lost by RENAME')
            r = c.cmd('SELECT Z/B')
            assert_status(self, r, 'OK')
            r = c.cmd('FETCH 1 BODY.PEEK[]')
            self.assertEqual([u.literals for u in r.untagged], [[msg]], r)
            self.assertEqual(before[1]['MESSAGES'], 1)
            # Into a new hierarchy level: the parent is created.
            assert_status(self, c.cmd('RENAME Z/B/C New/Deep/C'), 'OK')
            self.assertIn('New/Deep/C', parse_list(c.cmd('LIST "" *')))
            r = c.cmd('RENAME Nowhere X')
            assert_status(self, r, 'NO', 'NONEXISTENT')
            r = c.cmd('RENAME Z Sent')
            assert_status(self, r, 'NO', 'ALREADYEXISTS')
            r = c.cmd('RENAME Z INBOX')
            self.assertEqual(r.status, 'NO', r)
            r = c.cmd('RENAME Z')
            assert_status(self, r, 'BAD')

    def test_rename_inbox(self):
        addr = acct('inboxren')
        sent = [deliver(self.srv, addr) for _ in range(3)]
        stored = stored_by_marker(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            r = c.cmd('RENAME INBOX "Old Mail"')
            assert_status(self, r, 'OK')
            boxes = parse_list(c.cmd('LIST "" *'))
            self.assertIn('INBOX', boxes, 'INBOX must still exist after RENAME INBOX')
            self.assertIn('Old Mail', boxes)
            st = {parse_status(l)[0]: parse_status(l)[1] for l in (
                c.cmd('STATUS INBOX (MESSAGES)').lines('STATUS') +
                c.cmd('STATUS "Old Mail" (MESSAGES)').lines('STATUS'))}
            self.assertEqual(st['INBOX']['MESSAGES'], 0)
            self.assertEqual(st['Old Mail']['MESSAGES'], 3)
        moved = stored_by_marker(self.srv, addr, 'Old Mail')
        self.assertEqual(moved, stored, 'messages changed by RENAME INBOX')
        # New mail still goes to INBOX.
        marker, _ = deliver(self.srv, addr)
        self.assertEqual(list(stored_by_marker(self.srv, addr)), [marker])
        self.assertEqual(len(sent), 3)

    def test_subscribe(self):
        with logged_in(self.srv, acct('subs')) as c:
            assert_status(self, c.cmd('CREATE Lists/Dev'), 'OK')
            assert_status(self, c.cmd('UNSUBSCRIBE Lists/Dev'), 'OK')
            assert_status(self, c.cmd('UNSUBSCRIBE Lists'), 'OK')
            assert_status(self, c.cmd('UNSUBSCRIBE Junk'), 'OK')
            lsub = parse_list(c.cmd('LSUB "" *'))
            for name in ('Lists/Dev', 'Lists', 'Junk'):
                self.assertNotIn(name, lsub)
            self.assertIn('INBOX', lsub)
            sel = parse_list(c.cmd('LIST (SUBSCRIBED) "" *'))
            self.assertEqual(sorted(sel), sorted(lsub), 'LIST (SUBSCRIBED) and LSUB differ')
            for attrs in sel.values():
                self.assertIn('\\Subscribed', attrs)
            assert_status(self, c.cmd('SUBSCRIBE Lists/Dev'), 'OK')
            self.assertIn('Lists/Dev', parse_list(c.cmd('LSUB "" *')))
            r = c.cmd('LIST "" * RETURN (SUBSCRIBED)')
            boxes = parse_list(r)
            self.assertIn('\\Subscribed', boxes['Lists/Dev'])
            self.assertNotIn('\\Subscribed', boxes['Junk'])
            self.assertNotIn('\\Subscribed', boxes['Lists'])
            r = c.cmd('SUBSCRIBE')
            assert_status(self, r, 'BAD')

    def test_status(self):
        addr = acct('status')
        deliver(self.srv, addr)
        deliver(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            r = c.cmd('SELECT INBOX')
            uidvalidity = int(re.search(r'UIDVALIDITY (\d+)', ' '.join(r.lines('OK'))).group(1))
            assert_status(self, c.cmd('STORE 1 +FLAGS (\\Seen \\Deleted)'), 'OK')
            fetched = c.cmd('FETCH 1:* (RFC822.SIZE)')
            sizes = [int(x) for x in re.findall(r'RFC822\.SIZE (\d+)', ' '.join(
                fetched.lines()))]
            assert_status(self, c.cmd('UNSELECT'), 'OK')
            r = c.cmd('STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE '
                      'HIGHESTMODSEQ RECENT APPENDLIMIT)')
            assert_status(self, r, 'OK')
            name, st = parse_status(r.lines('STATUS')[0])
            self.assertEqual(name, 'INBOX')
            self.assertEqual(st['MESSAGES'], 2)
            self.assertEqual(st['UIDNEXT'], 3)
            self.assertEqual(st['UIDVALIDITY'], uidvalidity)
            self.assertEqual(st['UNSEEN'], 1)
            self.assertEqual(st['DELETED'], 1)
            self.assertEqual(st['SIZE'], sum(sizes))
            self.assertGreater(st['HIGHESTMODSEQ'], 0)
            self.assertEqual(st['RECENT'], 0)
            self.assertEqual(st['APPENDLIMIT'], 26214400)
            r = c.cmd('STATUS Nowhere (MESSAGES)')
            assert_status(self, r, 'NO', 'NONEXISTENT')
            r = c.cmd('STATUS INBOX (MESSAGES BOGUS)')
            assert_status(self, r, 'BAD')
            r = c.cmd('STATUS INBOX ()')
            assert_status(self, r, 'BAD')
            r = c.cmd('STATUS INBOX')
            assert_status(self, r, 'BAD')
        m = imap(self.srv, addr)
        data = ok(self, m.status('INBOX', '(MESSAGES UNSEEN)'), 'STATUS')
        self.assertRegex(data[0].decode(), r'MESSAGES 2 UNSEEN 1')
        m.logout()

    def test_list_return_status_children(self):
        addr = acct('liststatus')
        deliver(self.srv, addr)
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('CREATE Work/Reports'), 'OK')
            r = c.cmd('LIST "" * RETURN (CHILDREN STATUS (MESSAGES UNSEEN SIZE))')
            assert_status(self, r, 'OK')
            boxes = parse_list(r)
            self.assertIn('\\HasChildren', boxes['Work'])
            self.assertIn('\\HasNoChildren', boxes['Work/Reports'])
            statuses = dict(parse_status(l) for l in r.lines('STATUS'))
            self.assertEqual(sorted(statuses), sorted(boxes),
                             'RETURN (STATUS ...) must give one STATUS per listed mailbox')
            self.assertEqual(statuses['INBOX']['MESSAGES'], 1)
            self.assertEqual(statuses['INBOX']['UNSEEN'], 1)
            for name, st in statuses.items():
                plain = parse_status(c.cmd('STATUS "%s" (MESSAGES UNSEEN SIZE)' % name)
                                     .lines('STATUS')[0])[1]
                self.assertEqual(st, plain, 'LIST-STATUS and STATUS differ for ' + name)
            r = c.cmd('LIST "" * RETURN (STATUS (BOGUS))')
            assert_status(self, r, 'BAD')

    def test_international_names(self):
        with logged_in(self.srv, acct('utf7')) as c:
            # "日本語" in modified UTF-7 (RFC 3501 5.1.3), as IMAP4rev1 clients send it.
            r = c.cmd('CREATE "&ZeVnLIqe-"')
            assert_status(self, r, 'OK')
            r = c.cmd('CREATE "Caf&AOk-/Men&APw-"')
            assert_status(self, r, 'OK')
            boxes = parse_list(c.cmd('LIST "" *'))
            self.assertIn('&ZeVnLIqe-', boxes)
            self.assertIn('Caf&AOk-/Men&APw-', boxes)
            assert_status(self, c.cmd('SELECT "&ZeVnLIqe-"'), 'OK')
            # Not valid modified UTF-7: refused, not stored under a garbled name.
            r = c.cmd('CREATE "&Jjo!"')
            self.assertEqual(r.status, 'NO', r)
            # IMAP4rev2 speaks UTF-8 names.
            r = c.cmd('ENABLE IMAP4rev2')
            self.assertEqual(r.lines('ENABLED'), ['ENABLED IMAP4rev2'])
            boxes = parse_list(c.cmd('LIST "" *'))
            self.assertIn('日本語', boxes, boxes)
            self.assertIn('Café/Menü', boxes, boxes)
            r = c.cmd('CREATE "Ελληνικά"')
            assert_status(self, r, 'OK')
            r = c.cmd('STATUS "Ελληνικά" (MESSAGES)')
            assert_status(self, r, 'OK')
        # A rev1 session sees it in modified UTF-7.
        with logged_in(self.srv, acct('utf7')) as c:
            boxes = parse_list(c.cmd('LIST "" *'))
            self.assertIn(utf7_encode('Ελληνικά'), boxes, boxes)
            for n in boxes:
                self.assertTrue(all(ord(ch) < 128 for ch in n),
                                'IMAP4rev1 session got an 8-bit mailbox name: %r' % n)
        m = imap(self.srv, acct('utf7'))
        ok(self, m.select('"&ZeVnLIqe-"'), 'imaplib SELECT')
        m.logout()


if __name__ == '__main__':
    unittest.main()
