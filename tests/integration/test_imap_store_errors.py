"""A store that fails to read must look like a failure, never like an empty mailbox.

The server runs with YUBIN_FAULT_FILE (the backend's test hook, docs/architecture.md): while
that file exists, the reads it names fail as a SQLite error would. With reads failing,
SELECT answers NO [SERVERBUG] (never "* 0 EXISTS" with OK) and leaves nothing selected;
FETCH, SEARCH, SORT, STATUS and LIST answer NO [SERVERBUG] and send nothing that claims
emptiness; a NOOP changes nothing, and once the fault clears the next NOOP reports what
happened meanwhile, expunges included. POP3 says -ERR [SYS/TEMP] instead of an empty
maildrop. Checked with RawIMAP (exact lines), imaplib and poplib.

A real fault too: the messages table's root page overwritten while the server is stopped, so
SQLite itself answers SQLITE_CORRUPT ("database disk image is malformed")."""

import os
import poplib
import re
import sqlite3
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IO_TIMEOUT, DEFAULT_PASSWORD, Server, ServerTestCase  # noqa: E402
from imap_common import assert_status, deliver, fetches, imap, logged_in  # noqa: E402

DOMAIN = 'example.test'


def acct(name):
    return '%s@%s' % (name, DOMAIN)


class StoreReadErrors(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[acct(n) for n in ('select', 'sync', 'syncscan', 'fetch',
                                                   'search', 'status', 'pop', 'imaplib',
                                                   'qresync')])

    @classmethod
    def setUpClass(cls):
        cls.fault_dir = tempfile.mkdtemp(prefix='yubin-fault-')
        os.chmod(cls.fault_dir, 0o755)  # the server reads it after dropping privileges
        cls.fault_file = os.path.join(cls.fault_dir, 'fail')
        cls.old_env = os.environ.get('YUBIN_FAULT_FILE')
        os.environ['YUBIN_FAULT_FILE'] = cls.fault_file
        try:
            super().setUpClass()
        finally:
            # Only the server inherits the hook; `yubin check` at the end runs without it.
            if cls.old_env is None:
                del os.environ['YUBIN_FAULT_FILE']
            else:
                os.environ['YUBIN_FAULT_FILE'] = cls.old_env

    @classmethod
    def tearDownClass(cls):
        cls.clear_fault()
        try:
            super().tearDownClass()
        finally:
            os.rmdir(cls.fault_dir)

    @classmethod
    def clear_fault(cls):
        try:
            os.unlink(cls.fault_file)
        except FileNotFoundError:
            pass

    def fault(self, *reads):
        with open(self.fault_file, 'w') as f:
            f.write(''.join(r + '\n' for r in reads))
        self.addCleanup(self.clear_fault)

    def session(self, addr, n):
        for _ in range(n):
            deliver(self.srv, addr)
        c = logged_in(self.srv, addr)
        self.addCleanup(c.close)
        return c

    def assert_no_empty_claim(self, r):
        for line in r.lines():
            self.assertNotRegex(line, r'^0 EXISTS|^SEARCH$|^SORT$|^ESEARCH',
                                'a failed read answered as an empty mailbox: %r' % r)

    def test_select_fails_instead_of_empty(self):
        c = self.session(acct('select'), 3)
        self.fault('mailbox_scan')
        for verb in ('SELECT', 'EXAMINE'):
            r = c.cmd('%s INBOX' % verb)
            assert_status(self, r, 'NO', 'SERVERBUG')
            self.assertEqual(r.lines('0 EXISTS'), [], r)
            self.assertEqual(r.lines(), [], 'nothing untagged before a failed SELECT: %r' % r)
            # Not selected into an empty mailbox: commands of the selected state are refused.
            r = c.cmd('FETCH 1:* (UID)')
            self.assertEqual(r.status, 'BAD', r)
            self.assertEqual(fetches(r), {}, r)
        self.clear_fault()
        r = c.cmd('SELECT INBOX')
        assert_status(self, r, 'OK')
        self.assertIn('3 EXISTS', r.lines())
        # A failed SELECT while another mailbox is open closes it (RFC 9051 6.3.2).
        self.fault('mailbox_get')
        r = c.cmd('SELECT INBOX')
        assert_status(self, r, 'NO', 'SERVERBUG')
        self.assertEqual(r.lines('0 EXISTS'), [], r)
        self.assertEqual(c.cmd('NOOP').status, 'OK')
        self.assertEqual(c.cmd('FETCH 1 (UID)').status, 'BAD')

    def test_qresync_select_fails_whole(self):
        """SELECT ... (QRESYNC ...) whose VANISHED (EARLIER) lookup fails is a failed SELECT,
        not a selected mailbox with expunges left out."""
        c = self.session(acct('qresync'), 2)
        assert_status(self, c.cmd('ENABLE QRESYNC'), 'OK')
        r = c.cmd('SELECT INBOX')
        uidvalidity = re.search(r'UIDVALIDITY (\d+)', ' '.join(r.lines())).group(1)
        assert_status(self, c.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)'), 'OK')
        assert_status(self, c.cmd('EXPUNGE'), 'OK')
        self.fault('mailbox_vanished')
        r = c.cmd('SELECT INBOX (QRESYNC (%s 1))' % uidvalidity)
        assert_status(self, r, 'NO', 'SERVERBUG')
        self.assertEqual(c.cmd('FETCH 1 (UID)').status, 'BAD')
        self.clear_fault()
        r = c.cmd('SELECT INBOX (QRESYNC (%s 1))' % uidvalidity)
        assert_status(self, r, 'OK')
        self.assertTrue(r.lines('VANISHED (EARLIER)'), r)

    def test_sync_waits_for_the_store(self):
        """A NOOP whose reads fail tells nothing and forgets nothing: the expunge and the new
        message that happened meanwhile come with the first NOOP after the fault clears."""
        addr = acct('sync')
        a = self.session(addr, 3)
        b = logged_in(self.srv, addr)
        self.addCleanup(b.close)
        for c in (a, b):
            r = c.cmd('SELECT INBOX')
            assert_status(self, r, 'OK')
            self.assertIn('3 EXISTS', r.lines())
        uids_before = sorted(int(f['UID']) for f in fetches(a.cmd('FETCH 1:* (UID)')).values())
        assert_status(self, b.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)'), 'OK')
        assert_status(self, b.cmd('EXPUNGE'), 'OK')
        deliver(self.srv, addr)
        self.fault('mailbox_vanished')
        for _ in range(2):
            r = a.cmd('NOOP')
            self.assertEqual(r.status, 'OK', r)
            self.assertEqual(r.lines(), [], 'nothing to report while the store fails: %r' % r)
        self.clear_fault()
        r = a.cmd('NOOP')
        assert_status(self, r, 'OK')
        self.assertIn('2 EXPUNGE', r.lines(), r)
        self.assertIn('3 EXISTS', r.lines(), r)
        uids = sorted(int(f['UID']) for f in fetches(a.cmd('FETCH 1:* (UID)')).values())
        self.assertEqual(len(uids), 3, uids)
        self.assertNotIn(uids_before[1], uids)
        self.assertEqual(uids[:2], [uids_before[0], uids_before[2]])

    def test_sync_scan_failure_reports_new_mail_later(self):
        addr = acct('syncscan')
        a = self.session(addr, 2)
        assert_status(self, a.cmd('SELECT INBOX'), 'OK')
        deliver(self.srv, addr)
        self.fault('mailbox_scan')
        r = a.cmd('NOOP')
        self.assertEqual(r.lines(), [], r)
        self.clear_fault()
        r = a.cmd('NOOP')
        self.assertIn('3 EXISTS', r.lines(), r)
        self.assertEqual(len(fetches(a.cmd('FETCH 1:* (UID)'))), 3)

    def test_fetch_search_sort_fail_loudly(self):
        addr = acct('fetch')
        c = self.session(addr, 2)
        assert_status(self, c.cmd('SELECT INBOX'), 'OK')
        self.fault('message_read')
        r = c.cmd('FETCH 1:2 (BODY.PEEK[])')
        assert_status(self, r, 'NO', 'SERVERBUG')
        self.assertEqual(fetches(r), {}, 'no message with NIL or an empty body: %r' % r)
        r = c.cmd('SEARCH BODY marker')
        assert_status(self, r, 'NO', 'SERVERBUG')
        self.assert_no_empty_claim(r)
        r = c.cmd('SORT (SUBJECT) UTF-8 ALL')
        assert_status(self, r, 'NO', 'SERVERBUG')
        self.assert_no_empty_claim(r)
        self.fault('mailbox_scan')
        for cmd in ('FETCH 1:* (FLAGS)', 'SEARCH ALL', 'UID SEARCH RETURN (COUNT) ALL',
                    'SORT (DATE) UTF-8 ALL', 'THREAD REFERENCES UTF-8 ALL'):
            r = c.cmd(cmd)
            assert_status(self, r, 'NO', 'SERVERBUG', cmd)
            self.assert_no_empty_claim(r)
            self.assertEqual(r.lines('THREAD'), [], r)
        self.clear_fault()
        r = c.cmd('SEARCH BODY marker')
        assert_status(self, r, 'OK')
        self.assertEqual(r.lines('SEARCH'), ['SEARCH 1 2'])
        r = c.cmd('FETCH 1 (BODY.PEEK[])')
        assert_status(self, r, 'OK')
        self.assertEqual(list(fetches(r)), [1])

    def test_status_and_list_fail_loudly(self):
        c = self.session(acct('status'), 1)
        self.fault('mailbox_get')
        r = c.cmd('STATUS INBOX (MESSAGES)')
        assert_status(self, r, 'NO', 'SERVERBUG')
        self.assertEqual(r.lines('STATUS'), [], r)
        self.fault('mailbox_list')
        r = c.cmd('LIST "" "*"')
        assert_status(self, r, 'NO', 'SERVERBUG')
        self.assertEqual(r.lines('LIST'), [], r)
        self.clear_fault()
        r = c.cmd('STATUS INBOX (MESSAGES)')
        assert_status(self, r, 'OK')
        self.assertEqual(r.lines('STATUS'), ['STATUS "INBOX" (MESSAGES 1)'])
        self.assertIn('INBOX', ' '.join(c.cmd('LIST "" "*"').lines('LIST')))

    def test_imaplib_select_raises(self):
        addr = acct('imaplib')
        deliver(self.srv, addr)
        m = imap(self.srv, addr)
        self.addCleanup(m.logout)
        self.fault('mailbox_scan')
        typ, data = m.select('INBOX')
        self.assertEqual(typ, 'NO', data)
        self.assertIn(b'SERVERBUG', data[0])
        self.clear_fault()
        typ, data = m.select('INBOX')
        self.assertEqual((typ, data), ('OK', [b'1']))

    def test_pop3_says_temporary_error(self):
        addr = acct('pop')
        deliver(self.srv, addr)
        deliver(self.srv, addr)
        self.fault('pop3_maildrop')
        p = poplib.POP3('127.0.0.1', self.srv.pop3_port, timeout=IO_TIMEOUT)
        self.addCleanup(p.close)
        p.user(addr)
        with self.assertRaises(poplib.error_proto) as e:
            p.pass_(DEFAULT_PASSWORD)
        self.assertIn(b'[SYS/TEMP]', e.exception.args[0])
        self.clear_fault()
        p2 = poplib.POP3('127.0.0.1', self.srv.pop3_port, timeout=IO_TIMEOUT)
        self.addCleanup(p2.close)
        p2.user(addr)
        p2.pass_(DEFAULT_PASSWORD)
        self.assertEqual(p2.stat()[0], 2)
        self.fault('message_read')
        with self.assertRaises(poplib.error_proto) as e:
            p2.retr(1)
        self.assertIn(b'[SYS/TEMP]', e.exception.args[0])
        self.clear_fault()
        self.assertIn(b'marker', b'\n'.join(p2.retr(1)[1]))
        p2.quit()


class RealCorruption(unittest.TestCase):
    def test_corrupt_messages_table(self):
        addr = acct('corrupt')
        srv = Server(accounts=[addr])
        srv.__enter__()
        try:
            for _ in range(3):
                deliver(srv, addr)
            srv.stop()
            db = os.path.join(srv.data, 'store.db')
            con = sqlite3.connect(db)
            con.execute('PRAGMA wal_checkpoint(TRUNCATE)')
            page = con.execute('PRAGMA page_size').fetchone()[0]
            root = con.execute("SELECT rootpage FROM sqlite_master WHERE type = 'table'"
                               " AND name = 'messages'").fetchone()[0]
            con.close()
            with open(db, 'r+b') as f:
                f.seek((root - 1) * page)
                f.write(b'\xff' * page)
            srv.serve()
            c = logged_in(srv, addr)
            self.addCleanup(c.close)
            r = c.cmd('SELECT INBOX')
            assert_status(self, r, 'NO', 'SERVERBUG')
            self.assertEqual(r.lines('0 EXISTS'), [], r)
            r = c.cmd('STATUS INBOX (MESSAGES)')
            assert_status(self, r, 'NO', 'SERVERBUG')
            self.assertEqual(r.lines('STATUS'), [], r)
            p = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=IO_TIMEOUT)
            self.addCleanup(p.close)
            p.user(addr)
            with self.assertRaises(poplib.error_proto) as e:
                p.pass_(DEFAULT_PASSWORD)
            self.assertIn(b'[SYS/TEMP]', e.exception.args[0])
            self.assertIn('event=store-read-failed what=mailbox_scan error="database disk image '
                          'is malformed"', srv.log_text())
        finally:
            srv.stop(assert_clean=False)
            srv.cleanup()


if __name__ == '__main__':
    unittest.main()
