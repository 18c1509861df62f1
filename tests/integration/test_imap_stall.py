"""Issue 9: no IMAP command may hold the shared event loop. A LIST pattern of hundreds of
wildcards once backtracked exponentially and stopped SMTP, POP3 and IMAP for everyone (and
SIGTERM with them); other clients must be greeted while such a command runs, and it must end."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RawSMTP, Server, ServerTestCase, message  # noqa: E402
from imap_common import RawIMAP, deliver, logged_in  # noqa: E402
from pop3_common import RawPOP3  # noqa: E402

DOMAIN = 'example.test'
USER = 'alice@' + DOMAIN
# Long names without a separator give the old recursive matcher the most ways to split them.
BOXES = ['Projects2024quarterlyreviewsx', 'Projects2024quarterlyreviews']


def greeted_within(testcase, srv, seconds):
    """SMTP, POP3 and IMAP each greet a new client within `seconds`."""
    t0 = time.monotonic()
    with RawSMTP(srv.smtp_port, timeout=seconds) as s:
        testcase.assertEqual(s.greeting.code, 220, s.greeting)
    with RawPOP3(srv.pop3_port, timeout=seconds) as p:
        testcase.assertTrue(p.greeting.startswith('+OK'), p.greeting)
    with RawIMAP(srv.imap_port, timeout=seconds) as i:
        testcase.assertTrue(i.greeting.line.startswith('* OK'), i.greeting)
    return time.monotonic() - t0


class ImapListWildcards(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[USER])

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with logged_in(cls.srv, USER) as c:
            for b in BOXES:
                r = c.cmd('CREATE %s' % b)
                assert r.status == 'OK', r

    def run_pattern(self, command, expect):
        c = logged_in(self.srv, USER)
        try:
            c.send('w1 %s\r\n' % command)
            time.sleep(0.2)
            try:
                took = greeted_within(self, self.srv, 5.0)
            except (socket.timeout, OSError) as e:
                self.fail('no greeting within 5 s while %s... ran: %r' % (command[:30], e))
            self.assertLess(took, 5.0)
            c.sock.settimeout(10.0)
            res = c.until_tagged('w1')
            self.assertEqual(res.status, 'OK', res)
            names = sorted(l.rsplit(' ', 1)[1].strip('"') for l in res.lines(command[:4]))
            self.assertEqual(names, expect, res)
        finally:
            c.close()

    def test_list_with_hundreds_of_wildcards(self):
        self.run_pattern('LIST "" "%s"' % ('%' * 400 + 'x'), [BOXES[0]])

    def test_lsub_and_wildcards_in_the_reference(self):
        with logged_in(self.srv, USER) as c:
            self.assertEqual(c.cmd('SUBSCRIBE %s' % BOXES[0]).status, 'OK')
        self.run_pattern('LSUB "" "%s"' % ('*%' * 300 + 'x'), [BOXES[0]])
        # The reference is joined to the pattern with the separator: "<ref>/<pattern>".
        with logged_in(self.srv, USER) as c:
            self.assertEqual(c.cmd('CREATE %s/sub' % BOXES[1]).status, 'OK')
        self.run_pattern('LIST "%s" "%s"' % ('%' * 300 + 's', '%' * 300 + 'b'),
                         [BOXES[1] + '/sub'])


# Six messages of 100 KB of text, and a SEARCH program of many text keys that are nowhere:
# every key reads every message's decoded text (200 keys: 1.5-4 s on this machine, on the
# event loop before the reader threads, where it held every other client).
BIG_MESSAGES = 6
LINE = b'the quick brown fox jumps over the lazy dog 0123456789 abcdefghij\r\n'


def heavy_program(keys):
    return ' '.join('NOT TEXT qz%05dx' % k for k in range(keys))


def fill_mailbox(srv, user):
    """In order: UID i has subject "big <7-i>"."""
    body = LINE * (100 * 1024 // len(LINE))
    for i in range(BIG_MESSAGES):
        deliver(srv, user, msg=message('big%d' % i, subject='big %d' % (BIG_MESSAGES - i),
                                       to=user, body=body))


class ImapHeavyReads(ServerTestCase, unittest.TestCase):
    """SEARCH, SORT and THREAD run on reader threads: the loop keeps serving meanwhile."""
    SERVER_ARGS = dict(accounts=[USER])

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        fill_mailbox(cls.srv, USER)

    def others_served_while(self, command, keys):
        c = logged_in(self.srv, USER)
        try:
            self.assertEqual(c.cmd('SELECT INBOX').status, 'OK')
            c.send('h1 %s\r\n' % command)
            time.sleep(0.3)
            t0 = time.monotonic()
            try:
                greeted_within(self, self.srv, 2.0)
                # The same account, another session: its own commands are answered too.
                with logged_in(self.srv, USER) as o:
                    o.sock.settimeout(2.0)
                    self.assertEqual(o.cmd('EXAMINE INBOX').status, 'OK')
                    self.assertEqual(o.cmd('NOOP').status, 'OK')
            except (socket.timeout, OSError) as e:
                self.fail('others not served within 2 s while %s ran: %r' % (command[:20], e))
            self.assertLess(time.monotonic() - t0, 2.0)
            c.sock.settimeout(60.0)
            res = c.until_tagged('h1')
            self.assertEqual(res.status, 'OK', res)
            # Pipelined after it: answered after it, in order.
            self.assertEqual(c.cmd('NOOP').status, 'OK')
            return res
        finally:
            c.close()

    def test_search_with_text_keys(self):
        res = self.others_served_while('SEARCH ' + heavy_program(400), 400)
        self.assertEqual(res.lines('SEARCH'), ['SEARCH 1 2 3 4 5 6'], res)
        self.assertNotIn('what="IMAP SEARCH"', self.srv.log_text())

    def test_sort_and_thread(self):
        res = self.others_served_while('UID SORT (SUBJECT) UTF-8 ' + heavy_program(300), 300)
        self.assertEqual(len(res.lines('SORT')), 1, res)
        subjects_desc = [int(u) for u in res.lines('SORT')[0].split()[1:]]
        self.assertEqual(len(subjects_desc), BIG_MESSAGES, res)
        # Subjects "big 6" .. "big 1" were delivered in that order: sorted, UIDs descend.
        self.assertEqual(subjects_desc, sorted(subjects_desc, reverse=True), res)
        res = self.others_served_while('THREAD ORDEREDSUBJECT UTF-8 ' + heavy_program(150), 150)
        self.assertEqual(len(res.lines('THREAD')), 1, res)
        log = self.srv.log_text()
        self.assertNotIn('what="IMAP UID SORT"', log)
        self.assertNotIn('what="IMAP THREAD"', log)

    def test_quick_reads_not_behind_long_searches(self):
        """Two long SEARCHes take two readers; another session's FETCH goes to a free one
        (the least busy), not into a queue behind a SEARCH."""
        heavy = []
        try:
            for i in range(2):
                c = logged_in(self.srv, USER)
                heavy.append(c)
                self.assertEqual(c.cmd('EXAMINE INBOX').status, 'OK')
                c.send('q%d SEARCH %s\r\n' % (i, heavy_program(600)))
            time.sleep(0.3)
            with logged_in(self.srv, USER) as o:
                o.sock.settimeout(2.0)
                self.assertEqual(o.cmd('EXAMINE INBOX').status, 'OK')
                t0 = time.monotonic()
                try:
                    for _ in range(3):
                        res = o.cmd('FETCH 1 (FLAGS BODY.PEEK[HEADER])')
                        self.assertEqual(res.status, 'OK', res)
                except (socket.timeout, OSError) as e:
                    self.fail('a quick FETCH waited behind the long SEARCHes: %r' % e)
                self.assertLess(time.monotonic() - t0, 2.0)
                # The SEARCHes were still running: the FETCHes did not just come after them.
                for c in heavy:
                    c.sock.settimeout(0.05)
                    with self.assertRaises((socket.timeout, BlockingIOError)):
                        c.until_tagged('q%d' % heavy.index(c))
            for i, c in enumerate(heavy):
                c.sock.settimeout(120.0)
                self.assertEqual(c.until_tagged('q%d' % i).status, 'OK')
        finally:
            for c in heavy:
                c.close()

    def test_fetch_in_slices(self):
        """A FETCH answer over 1 MB comes from the reader in slices; all of it, in order, and
        a FETCH that sets \\Seen writes it before its tagged OK."""
        with logged_in(self.srv, USER) as c:
            self.assertEqual(c.cmd('EXAMINE INBOX').status, 'OK')
            res = c.cmd('FETCH 1:* (BODY.PEEK[] BODY.PEEK[TEXT] FLAGS)')
            self.assertEqual(res.status, 'OK', res)
            fetches = res.lines()
            self.assertEqual([l.split()[0] for l in fetches], [str(i) for i in range(1, 7)], res)
            for r in res.untagged:
                self.assertEqual(len(r.literals), 2, r)
                self.assertGreater(len(r.literals[0]), 100000)
                self.assertTrue(r.literals[0].endswith(r.literals[1]))
            # A client that reads late: the server pauses between slices, then goes on.
            c.send('late FETCH 1:* (BODY.PEEK[] BODY.PEEK[TEXT])\r\n')
            time.sleep(1.0)
            c.sock.settimeout(20.0)
            late = c.until_tagged('late')
            self.assertEqual(late.status, 'OK', late)
            self.assertEqual(len(late.untagged), BIG_MESSAGES, late)
            for a, b in zip(late.untagged, res.untagged):
                # (a plain comparison: unittest's diff of megabytes would take minutes)
                self.assertTrue(a.literals == b.literals, 'late FETCH differs: %r' % a)
            self.assertEqual(c.cmd('SELECT INBOX').status, 'OK')
            res = c.cmd('FETCH 2:6 (BODY[] BODY[TEXT])')
            self.assertEqual(res.status, 'OK', res)
            self.assertEqual(len(res.untagged), 5, res)
            flags = c.cmd('FETCH 1:6 FLAGS').lines()
            self.assertNotIn('\\Seen', flags[0])
            for l in flags[1:]:
                self.assertIn('\\Seen', l)
            c.cmd('STORE 1:6 -FLAGS.SILENT (\\Seen)')

    def test_client_gone_while_searching(self):
        c = logged_in(self.srv, USER)
        self.assertEqual(c.cmd('SELECT INBOX').status, 'OK')
        c.send('g1 SEARCH %s\r\n' % heavy_program(200))
        time.sleep(0.3)
        c.close()
        time.sleep(0.5)
        greeted_within(self, self.srv, 2.0)
        with logged_in(self.srv, USER) as o:
            self.assertEqual(o.cmd('SELECT INBOX').status, 'OK')
            self.assertEqual(o.cmd('SEARCH SUBJECT "big 3"').lines('SEARCH'), ['SEARCH 4'])
        self.assertTrue(self.srv.alive())


class ImapStopWhileReading(unittest.TestCase):
    """SIGTERM ends the server within the drain time even while a long read runs."""

    def test_sigterm_during_search(self):
        with Server(accounts=[USER]) as srv:
            fill_mailbox(srv, USER)
            c = logged_in(srv, USER)
            try:
                self.assertEqual(c.cmd('SELECT INBOX').status, 'OK')
                # Far longer than the 3 s drain if the server waited for it.
                c.send('s1 SEARCH %s\r\n' % heavy_program(1500))
                time.sleep(0.3)
                t0 = time.monotonic()
                code = srv.stop(assert_clean=False)
                took = time.monotonic() - t0
                self.assertEqual(code, 0, srv.log_tail())
                self.assertLess(took, 4.5, srv.log_tail())
                c.sock.settimeout(2.0)
                self.assertIn(b'BYE', c.buf + c.sock.recv(4096))
            finally:
                c.close()
            self.assertIn('event=stopped slow_turns=0', srv.log_text())


if __name__ == '__main__':
    unittest.main()
