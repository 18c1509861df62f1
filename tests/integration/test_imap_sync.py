"""Several IMAP sessions on one mailbox: flag changes by one session reach the others at NOOP
and during IDLE (untagged FETCH), expunges arrive as EXPUNGE (never during FETCH/STORE/SEARCH),
new mail (SMTP or APPEND) as EXISTS, and IDLE hears of it quickly (the measured latency is
printed; the bound is a generous 2 s)."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, message, token  # noqa: E402
from imap_common import (Closed, assert_status, deliver, fetches, logged_in)  # noqa: E402

DOMAIN = 'example.test'
IDLE_BOUND = 2.0


def acct(name):
    return '%s@%s' % (name, DOMAIN)


def uids_of(c):
    r = c.cmd('FETCH 1:* (UID)')
    return [int(f['UID']) for _, f in sorted(fetches(r).items())]


class ImapTwoSessions(ServerTestCase, unittest.TestCase):
    SERVER_ARGS = dict(accounts=[acct(n) for n in ('flags', 'expunge', 'newmail', 'idle',
                                                   'idleflags', 'deleted', 'condstore', 'sleepy')])

    def pair(self, addr, n_messages):
        for _ in range(n_messages):
            deliver(self.srv, addr)
        a = logged_in(self.srv, addr)
        b = logged_in(self.srv, addr, tls=True)
        for c in (a, b):
            r = c.cmd('SELECT INBOX')
            assert_status(self, r, 'OK')
            self.assertIn('%d EXISTS' % n_messages, r.lines())
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        return a, b

    def test_flags_via_noop(self):
        a, b = self.pair(acct('flags'), 3)
        r = a.cmd('STORE 2 +FLAGS (\\Flagged $Work)')
        assert_status(self, r, 'OK')
        r = b.cmd('NOOP')
        assert_status(self, r, 'OK')
        f = fetches(r)
        self.assertEqual(list(f), [2], 'NOOP in the other session: %r' % r)
        self.assertEqual(sorted(f[2]['FLAGS']), ['$Work', '\\Flagged'])
        # Nothing new: NOOP says nothing.
        self.assertEqual(b.cmd('NOOP').untagged, [])
        # Silent stores are silent only for the session that made them.
        assert_status(self, a.cmd('STORE 1:3 +FLAGS.SILENT (\\Seen)'), 'OK')
        r = b.cmd('NOOP')
        self.assertEqual(sorted(fetches(r)), [1, 2, 3], r)
        for f in fetches(r).values():
            self.assertIn('\\Seen', f['FLAGS'])
        r = a.cmd('NOOP')
        self.assertEqual(fetches(r), {}, 'the session that stored silently heard of it: %r' % r)
        # The other way round, and a non-PEEK FETCH (\Seen) counts as a change.
        assert_status(self, b.cmd('STORE 1 -FLAGS (\\Seen)'), 'OK')
        r = a.cmd('NOOP')
        self.assertEqual(fetches(r)[1]['FLAGS'], [])
        b.cmd('FETCH 1 BODY[TEXT]')
        r = a.cmd('CHECK')
        self.assertEqual(fetches(r).get(1, {}).get('FLAGS'), ['\\Seen'], r)

    def test_expunge_seen_by_other(self):
        a, b = self.pair(acct('expunge'), 5)
        before = uids_of(b)
        assert_status(self, a.cmd('STORE 1,3 +FLAGS.SILENT (\\Deleted)'), 'OK')
        r = a.cmd('EXPUNGE')
        assert_status(self, r, 'OK')
        # No EXPUNGE during FETCH, STORE or SEARCH (RFC 9051 7.5.1): the numbers must stay.
        r = b.cmd('FETCH 1:5 (UID)')
        assert_status(self, r, 'OK')
        self.assertFalse([u for u in r.untagged if u.line.endswith('EXPUNGE')],
                         'EXPUNGE sent during FETCH: %r' % r)
        r = b.cmd('SEARCH ALL')
        self.assertFalse([u for u in r.untagged if u.line.endswith('EXPUNGE')], r)
        r = b.cmd('STORE 5 +FLAGS (\\Answered)')
        self.assertFalse([u for u in r.untagged if u.line.endswith('EXPUNGE')], r)
        r = b.cmd('NOOP')
        exp = [u.line for u in r.untagged if u.line.endswith('EXPUNGE')]
        self.assertEqual(len(exp), 2, r)
        # Apply the EXPUNGEs to the old view: it must match the new one.
        view = list(before)
        for line in exp:
            del view[int(line.split()[1]) - 1]
        self.assertEqual(view, uids_of(b), 'EXPUNGE numbers do not fit: %r' % exp)
        self.assertEqual(view, [before[1], before[3], before[4]])
        # UID FETCH and UID SEARCH may carry EXPUNGE; a later one still works.
        assert_status(self, a.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)'), 'OK')
        assert_status(self, a.cmd('EXPUNGE'), 'OK')
        r = b.cmd('UID SEARCH ALL')
        assert_status(self, r, 'OK')
        r = b.cmd('NOOP')
        self.assertEqual(uids_of(b), [before[3], before[4]])

    def test_new_mail_via_noop(self):
        addr = acct('newmail')
        a, b = self.pair(addr, 1)
        deliver(self.srv, addr)
        r = b.cmd('NOOP')
        self.assertIn('2 EXISTS', r.lines(), r)
        msg = message(token(), to=addr)
        r = a.command('APPEND INBOX {%d}' % len(msg), msg, '')
        assert_status(self, r, 'OK')
        self.assertIn('3 EXISTS', r.lines(), 'APPEND to the selected mailbox: %r' % r)
        r = b.cmd('NOOP')
        self.assertIn('3 EXISTS', r.lines(), r)
        # Mail for a mailbox that is not selected: STATUS sees it, NOOP says nothing.
        r = a.command('APPEND Archive {%d}' % len(msg), msg, '')
        r = b.cmd('NOOP')
        self.assertEqual(r.untagged, [])
        r = b.cmd('FETCH 3 BODY.PEEK[]')
        self.assertEqual(fetches(r)[3]['BODY[]'], msg)

    def idle(self, c):
        c.send('i1 IDLE\r\n')
        r, _, _ = c.read_until(lambda x: x.line.startswith('+') or x.line.startswith('i1 '), 5)
        self.assertTrue(r.line.startswith('+'), 'IDLE not accepted: %r' % r)

    def done(self, c):
        c.send('DONE\r\n')
        r = c.until_tagged('i1')
        assert_status(self, r, 'OK', msg='IDLE ... DONE')
        return r

    def test_idle_new_mail_latency(self):
        addr = acct('idle')
        a, b = self.pair(addr, 1)
        self.idle(b)
        latencies = []
        for k in range(3):
            t0 = time.monotonic()
            deliver(self.srv, addr)
            delivered = time.monotonic()
            r, _, seen = b.read_until(lambda x: x.line.endswith(' EXISTS'), IDLE_BOUND + 3)
            got = time.monotonic()
            latencies.append((got - delivered, got - t0))
            self.assertEqual(r.line, '* %d EXISTS' % (k + 2))
        # APPEND by the other session.
        msg = message(token(), to=addr)
        t0 = time.monotonic()
        r = a.command('APPEND INBOX {%d}' % len(msg), msg, '')
        assert_status(self, r, 'OK')
        r, waited, _ = b.read_until(lambda x: x.line.endswith(' EXISTS'), IDLE_BOUND + 3)
        latencies.append((time.monotonic() - t0, time.monotonic() - t0))
        self.done(b)
        worst = max(l[0] for l in latencies)
        print('\n     IMAP IDLE latency after SMTP 250 / APPEND OK: %s s (worst %.3f s)'
              % (', '.join('%.3f' % l[0] for l in latencies), worst), flush=True)
        self.assertLess(worst, IDLE_BOUND, 'IDLE heard of new mail too late: %r' % latencies)
        r = b.cmd('FETCH 1:* UID')
        self.assertEqual(len(fetches(r)), 5)

    def test_idle_sessions_wake_and_sleep_again(self):
        # An IDLE session with nothing buffered gives back its bufferevent and gets a new one
        # for every piece of news, for DONE, and for a DONE split over two packets.
        addr = acct('sleepy')
        deliver(self.srv, addr)
        sessions = []
        for tls in (True, False, True, False):
            c = logged_in(self.srv, addr, tls=tls)
            self.addCleanup(c.close)
            assert_status(self, c.cmd('SELECT INBOX'), 'OK')
            sessions.append(c)
        for round_ in range(3):
            for c in sessions:
                self.idle(c)
            time.sleep(0.2)  # asleep now
            for k in range(2):
                deliver(self.srv, addr)
                for c in sessions:
                    r, _, _ = c.read_until(lambda x: x.line.endswith(' EXISTS'), IDLE_BOUND + 3)
                    self.assertEqual(r.line, '* %d EXISTS' % (2 + 2 * round_ + k))
            for i, c in enumerate(sessions):
                if i % 2:
                    c.send('DO')
                    time.sleep(0.1)
                    c.send('NE\r\n')
                    assert_status(self, c.until_tagged('i1'), 'OK')
                else:
                    self.done(c)
                r = c.cmd('FETCH * (UID)')
                assert_status(self, r, 'OK')
                self.assertEqual(list(fetches(r)), [3 + 2 * round_])

    def test_idle_flags_and_expunge(self):
        addr = acct('idleflags')
        a, b = self.pair(addr, 3)
        self.idle(b)
        t0 = time.monotonic()
        assert_status(self, a.cmd('STORE 2 +FLAGS (\\Flagged)'), 'OK')
        r, _, _ = b.read_until(lambda x: ' FETCH ' in x.line, IDLE_BOUND + 3)
        t_flags = time.monotonic() - t0
        self.assertRegex(r.line, r'^\* 2 FETCH \(.*FLAGS \(\\Flagged\)', r)
        t0 = time.monotonic()
        assert_status(self, a.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)'), 'OK')
        assert_status(self, a.cmd('EXPUNGE'), 'OK')
        r, _, _ = b.read_until(lambda x: x.line.endswith(' EXPUNGE'), IDLE_BOUND + 3)
        t_exp = time.monotonic() - t0
        self.assertEqual(r.line, '* 1 EXPUNGE')
        self.done(b)
        print('\n     IMAP IDLE latency of a flag change %.3f s, of an expunge %.3f s'
              % (t_flags, t_exp), flush=True)
        self.assertLess(max(t_flags, t_exp), IDLE_BOUND)
        self.assertEqual(len(uids_of(b)), 2)
        # A line other than DONE during IDLE: BAD, and the session goes on.
        self.idle(b)
        b.send('NOOP\r\n')
        r = b.until_tagged('i1')
        self.assertEqual(r.status, 'BAD', r)
        assert_status(self, b.cmd('NOOP'), 'OK')

    def test_selected_mailbox_deleted(self):
        addr = acct('deleted')
        a = logged_in(self.srv, addr)
        b = logged_in(self.srv, addr)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        assert_status(self, a.cmd('CREATE Doomed'), 'OK')
        msg = message(token(), to=addr)
        a.command('APPEND Doomed {%d}' % len(msg), msg, '')
        assert_status(self, b.cmd('SELECT Doomed'), 'OK')
        assert_status(self, a.cmd('DELETE Doomed'), 'OK')
        # The other session must learn that its mailbox is gone (BYE, or NO and no mailbox),
        # and must not be served the deleted message.
        try:
            r = b.cmd('FETCH 1 BODY.PEEK[]')
        except Closed:
            return  # closed without a word is crude but safe
        self.assertEqual(fetches(r), {}, 'the deleted message was served: %r' % r)
        bye = [u for u in r.untagged if u.line.startswith('* BYE')]
        self.assertTrue(bye or r.status != 'OK', 'FETCH in a deleted mailbox: %r' % r)
        if bye:
            self.assertTrue(b.wait_closed(5), 'BYE but the connection stays open')
        with logged_in(self.srv, addr) as c:
            assert_status(self, c.cmd('NOOP'), 'OK')

    def test_condstore_session_sees_modseq(self):
        a, b = self.pair(acct('condstore'), 2)
        assert_status(self, b.cmd('ENABLE CONDSTORE'), 'OK')
        assert_status(self, a.cmd('STORE 1 +FLAGS (\\Seen)'), 'OK')
        r = b.cmd('NOOP')
        f = fetches(r)[1]
        self.assertIn('MODSEQ', f, 'CONDSTORE session: untagged FETCH without MODSEQ: %r' % r)
        self.assertIn('UID', f)
        self.assertTrue(re.match(r'^\d+$', f['MODSEQ'][0]))


if __name__ == '__main__':
    unittest.main()
