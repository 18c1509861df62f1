"""The Junk folder learns (issue 11): what a user does over IMAP teaches a real rspamd (with its
Bayes statistics in a private Redis, rspamd_common.PrivateRspamd(redis=True)). MOVE or COPY into
Junk and STORE +FLAGS ($Junk) learn spam (rspamd's learned-spam count goes up by one); MOVE out
of Junk to INBOX and STORE $NotJunk learn ham; out of Junk into Trash and -FLAGS ($Junk) learn
nothing. A MOVE of many messages learns 16 of them and says in the log how many it skipped.
With rspamd's per-user Bayes, what a user teaches goes to that user's statistics.
Without rspamd nothing happens; with rspamd down the MOVE still succeeds and the log says the
learn failed.

Messages are put in place with APPEND (not scanned), each with words of its own, so rspamd's
learn cache never takes one for another."""
import imaplib
import random
import re
import socket
import time
import unittest

import bigbox_common
import rspamd_common as rc
from harness import DEFAULT_PASSWORD, Server, token

ALICE = 'alice@example.test'
LEARN_WAIT = 30


def words_message(mk):
    """A message with a marker and enough words of its own for Bayes (11 tokens at least)."""
    rnd = random.Random(mk)
    words = ' '.join('w%s%d' % (mk[-6:], rnd.randrange(10 ** 6)) for _ in range(40))
    return rc.message('Note %s' % mk, 'Hello Alice,\r\n\r\n%s\r\n\r\nSam' % words,
                      mid='%s@sender.example' % mk)


def imap(srv):
    im = imaplib.IMAP4('127.0.0.1', srv.imap_port, timeout=60)
    im.login(ALICE, DEFAULT_PASSWORD)
    return im


def ok(resp):
    typ, data = resp
    if typ != 'OK':
        raise AssertionError('%s %r' % (typ, data))
    return data


def append(im, mailbox, msg, flags=None):
    data = ok(im.append(mailbox, flags, None, msg))
    m = re.search(rb'APPENDUID \d+ (\d+)', data[0])
    return m.group(1).decode()


def uid_of(im, mk):
    data = ok(im.uid('SEARCH', 'HEADER', 'Message-ID', mk))
    uids = data[0].split()
    if len(uids) != 1:
        raise AssertionError('%s: %r' % (mk, data))
    return uids[0].decode()


def closed_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class LearnCase(unittest.TestCase):
    def log_lines(self, pattern):
        return [l for l in self.srv.log_text().splitlines() if re.search(pattern, l)]

    def wait_log(self, pattern, count=1, timeout=LEARN_WAIT):
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log_lines(pattern)
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)


class TestJunkLearning(rc.RspamdServerCase, LearnCase):
    RSPAMD = {'redis': True}
    CONFIG = {'rspamd-timeout': '20'}
    ACCOUNTS = [ALICE]

    def setUp(self):
        self.im = imap(self.srv)

    def tearDown(self):
        try:
            self.im.logout()
        except (imaplib.IMAP4.error, OSError):
            pass

    def wait_learned(self, spam, ham):
        """Waits until rspamd's counts are (spam, ham) (None: any); returns them as they end."""
        deadline = time.monotonic() + LEARN_WAIT
        while True:
            now = (self.rs.learned('spam'), self.rs.learned('ham'))
            if ((spam is None or now[0] == spam) and (ham is None or now[1] == ham)) or \
                    time.monotonic() > deadline:
                return now
            time.sleep(0.1)

    def test_move_into_junk_then_back_to_inbox(self):
        mk = token()
        s0, h0 = self.rs.learned('spam'), self.rs.learned('ham')
        uid = append(self.im, 'INBOX', words_message(mk))
        ok(self.im.select('INBOX'))
        ok(self.im.uid('MOVE', uid, 'Junk'))
        self.assertEqual(self.wait_learned(s0 + 1, h0), (s0 + 1, h0))
        self.assertTrue(self.log_lines(r'event=imap-learn conn=\d+ user=%s as=spam messages=1 '
                                       r'learning=1 skipped=0' % re.escape(ALICE)))
        # and back out of Junk: one more ham (rspamd takes the spam verdict back itself)
        ok(self.im.select('Junk'))
        ok(self.im.uid('MOVE', uid_of(self.im, mk), 'INBOX'))
        self.assertEqual(self.wait_learned(None, h0 + 1)[1], h0 + 1)

    def test_copy_into_junk_learns_spam(self):
        mk = token()
        s0, h0 = self.rs.learned('spam'), self.rs.learned('ham')
        uid = append(self.im, 'INBOX', words_message(mk))
        ok(self.im.select('INBOX'))
        ok(self.im.uid('COPY', uid, 'Junk'))
        self.assertEqual(self.wait_learned(s0 + 1, h0), (s0 + 1, h0))
        # COPY with a sequence number, out of Junk into a folder of the user's: ham
        ok(self.im.create('Projects'))
        ok(self.im.select('Junk'))
        typ, data = self.im.search(None, 'HEADER', 'Message-ID', mk)
        ok(self.im.copy(data[0].split()[0].decode(), 'Projects'))
        self.assertEqual(self.wait_learned(None, h0 + 1)[1], h0 + 1)

    def test_store_junk_and_notjunk_keywords(self):
        spam_mk, ham_mk = token(), token()
        s0, h0 = self.rs.learned('spam'), self.rs.learned('ham')
        spam_uid = append(self.im, 'INBOX', words_message(spam_mk))
        ham_uid = append(self.im, 'INBOX', words_message(ham_mk))
        ok(self.im.select('INBOX'))
        ok(self.im.uid('STORE', spam_uid, '+FLAGS', '($Junk)'))
        self.assertEqual(self.wait_learned(s0 + 1, h0), (s0 + 1, h0))
        ok(self.im.uid('STORE', ham_uid, '+FLAGS.SILENT', '($NotJunk)'))
        self.assertEqual(self.wait_learned(s0 + 1, h0 + 1), (s0 + 1, h0 + 1))
        # removing a verdict teaches nothing; setting it again is "already learned", not
        # an error; then a last learn marks the end of what those two could have caused
        before = len(self.log_lines(r'event=imap-learn '))
        learned_ok = len(self.log_lines(r'event=rspamd-learn as=spam .*result=ok'))
        ok(self.im.uid('STORE', spam_uid, '-FLAGS', '($Junk)'))
        ok(self.im.uid('STORE', spam_uid, '+FLAGS', '($Junk)'))
        self.wait_log(r'event=rspamd-learn as=spam .*result=ok', learned_ok + 1)
        last = token()
        ok(self.im.uid('STORE', append(self.im, 'INBOX', words_message(last)), '+FLAGS',
                       '($Junk)'))
        self.assertEqual(self.wait_learned(s0 + 2, h0 + 1), (s0 + 2, h0 + 1))
        self.assertEqual(len(self.log_lines(r'event=imap-learn ')), before + 2)
        self.assertEqual(self.log_lines(r'event=rspamd-learn .*result=error'), [])

    def test_junk_to_trash_learns_nothing(self):
        mk = token()
        s0, h0 = self.rs.learned('spam'), self.rs.learned('ham')
        append(self.im, 'Junk', words_message(mk))  # APPEND is not a verdict either
        ok(self.im.select('Junk'))
        before = len(self.log_lines(r'event=imap-learn '))
        ok(self.im.uid('MOVE', uid_of(self.im, mk), 'Trash'))
        # a move INBOX -> Trash, Trash -> INBOX: no verdicts either
        ok(self.im.select('Trash'))
        ok(self.im.uid('MOVE', uid_of(self.im, mk), 'INBOX'))
        # a learn after them: when it is done, they would have been too
        last = token()
        ok(self.im.select('INBOX'))
        ok(self.im.uid('MOVE', append(self.im, 'INBOX', words_message(last)), 'Junk'))
        self.assertEqual(self.wait_learned(s0 + 1, h0), (s0 + 1, h0))
        self.assertEqual(len(self.log_lines(r'event=imap-learn ')), before + 1)

    def test_zz_big_move_is_bounded(self):
        """60 messages moved into Junk at once: 16 learned, 44 skipped and said so; the MOVE
        is answered at once, and no loop turn is slow."""
        s0, h0 = self.rs.learned('spam'), self.rs.learned('ham')
        ok(self.im.create('Bulk'))
        for _ in range(60):
            append(self.im, 'Bulk', words_message(token()))
        ok(self.im.select('Bulk'))
        t0 = time.monotonic()
        ok(self.im.uid('MOVE', '1:*', 'Junk'))
        move_s = time.monotonic() - t0
        self.assertLess(move_s, 2.0)
        line = self.wait_log(r'event=imap-learn .*messages=60 ')
        self.assertTrue(line, self.srv.log_tail())
        self.assertRegex(line[0], r'as=spam messages=60 learning=16 skipped=44 '
                                  r'why=per-command-limit')
        self.assertEqual(self.wait_learned(s0 + 16, h0), (s0 + 16, h0))
        # the client's own cap never had to skip anything
        self.assertEqual(self.log_lines(r'event=rspamd-learn .*result=skipped'), [])
        self.assertEqual(self.log_lines(r'event=slow-turn'), [])


class TestPerUserLearning(rc.RspamdServerCase, LearnCase):
    """rspamd set up for per-user Bayes: what Alice teaches counts for Alice (the account's
    address goes as Deliver-To, in lower case whatever case she logged in with)."""
    RSPAMD = {'redis': True, 'per_user': True}
    ACCOUNTS = [ALICE]

    def test_learning_is_per_user(self):
        im = imaplib.IMAP4('127.0.0.1', self.srv.imap_port, timeout=60)
        try:
            im.login(ALICE.upper(), DEFAULT_PASSWORD)
            uid = append(im, 'INBOX', words_message(token()))
            ok(im.select('INBOX'))
            ok(im.uid('MOVE', uid, 'Junk'))
        finally:
            im.logout()
        deadline = time.monotonic() + LEARN_WAIT
        while self.rs.learned('spam', ALICE) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.rs.learned('spam', ALICE), 1, self.srv.log_tail())
        self.assertEqual(self.rs.learned('spam'), 0)


class TestNoRspamd(LearnCase):
    """rspamd not configured: moving into Junk is only a move."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(accounts=[ALICE])
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def test_move_into_junk_without_rspamd(self):
        im = imap(self.srv)
        try:
            uid = append(im, 'INBOX', words_message(token()))
            ok(im.select('INBOX'))
            ok(im.uid('STORE', uid, '+FLAGS', '($Junk)'))
            ok(im.uid('MOVE', uid, 'Junk'))
            ok(im.select('Junk'))
            self.assertEqual(len(ok(im.uid('SEARCH', 'ALL'))[0].split()), 1)
        finally:
            im.logout()
        self.assertEqual(self.log_lines(r'learn'), [])
        self.assertEqual(self.log_lines(r'level=(warn|error)'), [])


class TestRspamdDown(LearnCase):
    """rspamd configured but not running: the MOVE succeeds, the log says the learn failed."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(config={'rspamd-url': 'http://127.0.0.1:%d' % closed_port(),
                                 'rspamd-controller-url': 'http://127.0.0.1:%d' % closed_port(),
                                 'rspamd-timeout': '2'},
                         accounts=[ALICE])
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def test_move_into_junk_with_rspamd_down(self):
        im = imap(self.srv)
        try:
            uid = append(im, 'INBOX', words_message(token()))
            ok(im.select('INBOX'))
            t0 = time.monotonic()
            typ, data = im.uid('MOVE', uid, 'Junk')
            self.assertEqual(typ, 'OK', data)
            self.assertLess(time.monotonic() - t0, 1.0)
            ok(im.select('Junk'))
            self.assertEqual(len(ok(im.uid('SEARCH', 'ALL'))[0].split()), 1)
        finally:
            im.logout()
        lines = self.wait_log(r'event=rspamd-learn as=spam .*result=error')
        self.assertTrue(lines, self.srv.log_tail())
        self.assertIn('cannot connect to rspamd', lines[0])

    def test_zz_move_10000_into_junk(self):
        """A MOVE of 10,000 messages into Junk: answered at once, 16 learns tried (and failed:
        rspamd is down), 9,984 skipped and said so, no slow loop turn."""
        n = 10000
        bigbox_common.fill(self.srv.smtp_port, ALICE, n)
        im = imap(self.srv)
        try:
            ok(im.create('Big'))
            ok(im.select('INBOX'))
            ok(im.uid('MOVE', '1:*', 'Big'))  # from a fresh mailbox: no mail of other tests
            ok(im.select('Big'))
            start = len(self.srv.log_text())
            t0 = time.monotonic()
            typ, data = im.uid('MOVE', '1:*', 'Junk')
            took = time.monotonic() - t0
            self.assertEqual(typ, 'OK', data)
        finally:
            im.logout()
        self.assertLess(took, 5.0)
        deadline = time.monotonic() + LEARN_WAIT
        while True:
            after = self.srv.log_text()[start:]
            failed = re.findall(r'event=rspamd-learn as=spam .*result=error', after)
            if len(failed) >= 16 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertRegex(after, r'event=imap-learn conn=\d+ user=%s as=spam messages=%d '
                                r'learning=16 skipped=%d why=per-command-limit'
                         % (re.escape(ALICE), n, n - 16))
        self.assertEqual(len(failed), 16, after[-3000:])
        self.assertNotIn('event=slow-turn', after)
        print('\n     MOVE of %d messages into Junk answered in %.2f s' % (n, took))


class TestRspamdSilent(LearnCase):
    """A controller that accepts and never answers: learns stay in flight (10 s), so the
    budget shared by all sessions (32 with those being read) runs out and later learns are
    skipped with a log line instead of piling up. The server still stops cleanly."""

    @classmethod
    def setUpClass(cls):
        cls.silent = socket.socket()
        cls.silent.bind(('127.0.0.1', 0))
        cls.silent.listen(128)
        cls.srv = Server(config={'rspamd-url': 'http://127.0.0.1:%d' % closed_port(),
                                 'rspamd-controller-url': 'http://127.0.0.1:%d'
                                 % cls.silent.getsockname()[1]},
                         accounts=[ALICE])
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.__exit__(None, None, None)
        finally:
            cls.silent.close()

    def test_budget_is_shared_and_bounded(self):
        im = imap(self.srv)
        try:
            ok(im.create('Bulk'))
            for _ in range(40):
                append(im, 'Bulk', words_message(token()))
            ok(im.select('Bulk'))
            for first in (1, 17):  # 16 + 16 learns: the budget is full
                ok(im.uid('MOVE', '%d:%d' % (first, first + 15), 'Junk'))
            ok(im.uid('MOVE', '33:40', 'Junk'))
        finally:
            im.logout()
        lines = self.log_lines(r'event=imap-learn ')
        self.assertEqual(len(lines), 3, lines)
        self.assertRegex(lines[0], r'messages=16 learning=16 skipped=0$')
        self.assertRegex(lines[1], r'messages=16 learning=16 skipped=0$')
        self.assertRegex(lines[2], r'messages=8 learning=0 skipped=8 why=busy')
        self.assertEqual(self.log_lines(r'event=rspamd-learn .*result=skipped'), [])


if __name__ == '__main__':
    unittest.main()
