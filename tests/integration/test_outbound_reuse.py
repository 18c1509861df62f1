"""Outbound connection reuse, client PIPELINING and the per-domain rate limit (docs/outbound.md),
against the same real peers as test_outbound.py (dnsmasq, a private Postfix as the remote MX).

What is checked comes from the peer where it can: Postfix logs every session as
`connect from` ... `QUEUEID: client=` (one per accepted message) ... `disconnect from ...
ehlo=2 starttls=1 mail=5 rcpt=5 data=5 rset=4 quit=1`, so the messages one session carried and
the commands it saw are read from there. Postfix refuses DATA (503 "improper use of SMTP command
pipelining") from a client that sends more after DATA before the 354. Whether MAIL and RCPT went
in one write is not visible to Postfix, so that is read from yubin's log (`pipelined=yes|no` on
each outbound-result line); mx.old.test does not offer PIPELINING.

Each class has its own yubin server, so no connection kept by one class is seen by another;
recipient answers (450/550) are set before a class's server starts: a Postfix session that is
already open does not see later changes of its table."""

import os
import re
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_outbound as base  # noqa: E402
from harness import DEFAULT_PASSWORD, token, unfold  # noqa: E402
from test_outbound import (ALICE, OutboundCase, compose, dsns, entries_for,  # noqa: E402
                           parse_next, queue_list, submit, tls_ctx, wait_for)

setUpModule = base.setUpModule
tearDownModule = base.tearDownModule


def submit_each(srv, marker, rcpts):
    """One submission session (STARTTLS, AUTH) sending one message to each of rcpts, quickly."""
    s = smtplib.SMTP('127.0.0.1', srv.port_offset + 587, timeout=20)
    try:
        s.starttls(context=tls_ctx())
        s.ehlo()
        s.login(ALICE, DEFAULT_PASSWORD)
        for r in rcpts:
            refused = s.sendmail(ALICE, [r], compose(marker, ALICE, [r]))
            if refused:
                raise AssertionError('refused at submission: %r' % refused)
        s.quit()
    finally:
        s.close()


def postfix_ids(stored):
    """Postfix's queue ids of a message as stored (its Received header by mx.*)."""
    crlf = stored.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    ids = []
    for h in re.split(rb'\r\n(?![ \t])', crlf.split(b'\r\n\r\n', 1)[0]):
        if h.startswith(b'Received:') and b'(Postfix)' in h:
            m = re.search(r'with \S+ id (\w+)', unfold(h + b'\r\n'))
            if m:
                ids.append(m.group(1))
    return ids


def postfix_sessions():
    """Postfix smtpd sessions from its log: [{'pid', 'qids': [...], 'end': stats or None}]."""
    sessions, open_by_pid = [], {}
    for line in base.MX.log_text().splitlines():
        m = re.search(r'postfix/smtpd\[(\d+)\]: (.*)$', line)
        if not m:
            continue
        pid, text = m.group(1), m.group(2)
        if text.startswith('connect from '):
            s = {'pid': pid, 'qids': [], 'end': None}
            sessions.append(s)
            open_by_pid[pid] = s
        elif text.startswith('disconnect from ') and pid in open_by_pid:
            open_by_pid.pop(pid)['end'] = text
        else:
            q = re.match(r'(\w+): client=', text)
            if q and pid in open_by_pid:
                open_by_pid[pid]['qids'].append(q.group(1))
    return sessions


def stat(end, name):
    """`name=N` (or `name=N/M`: N) from a Postfix disconnect line; 0 when absent."""
    m = re.search(r'\b%s=(\d+)' % name, end or '')
    return int(m.group(1)) if m else 0


class ReuseCase(OutboundCase):
    def deliver(self, t, rcpts):
        """Submits one message to each of rcpts (separately) and waits for all at Postfix;
        returns the Postfix sessions that carried them (waiting for those to end)."""
        submit_each(self.srv, t, rcpts)
        qids = set()
        for r in rcpts:
            got = self.wait_mail(r, timeout=20)
            self.assertEqual(len(got), 1, r)
            qids.update(postfix_ids(got[0]))
        self.assertEqual(len(qids), len(rcpts), 'one Postfix queue id per message: %s' % qids)
        self.wait_queue_gone(t, 5)
        ended = lambda: (lambda ss: ss if all(s['end'] for s in ss) else None)(  # noqa: E731
            [s for s in postfix_sessions() if qids & set(s['qids'])])
        # A kept connection closes after 5 idle seconds (QUIT), then Postfix logs its end.
        return wait_for(lambda: 'the end of the sessions that carried %s%s' % (qids, self.diag()),
                        ended, 15, 0.3), qids


class ConnectionReuse(ReuseCase):
    """One delivery at a time to a domain, so every message can only go over a kept
    connection or a new one: which it was shows in Postfix's log."""
    CONFIG = {'outbound-per-domain': '1', 'outbound-domain-rate': '0'}

    def test_messages_to_one_domain_share_one_connection(self):
        t = token()
        rcpts = ['s%d-%s@remote.test' % (i, t) for i in range(5)]
        sessions, qids = self.deliver(t, rcpts)
        diag = '\nsessions: %s%s' % (sessions, self.diag())
        self.assertEqual(len(sessions), 1, 'five messages to one domain should share one '
                         'connection' + diag)
        s = sessions[0]
        self.assertEqual(set(s['qids']), qids, diag)
        end = s['end']
        # One TLS handshake, five transactions, RSET before each message after the first,
        # and a polite QUIT when the connection had waited long enough.
        self.assertEqual(stat(end, 'starttls'), 1, end)
        self.assertEqual((stat(end, 'mail'), stat(end, 'rcpt'), stat(end, 'data')), (5, 5, 5), end)
        self.assertEqual(stat(end, 'rset'), 4, end)
        self.assertEqual(stat(end, 'quit'), 1, end)
        self.assertNotIn('improper use of SMTP command pipelining', base.MX.log_text())
        self.assertEqual(dsns(self.srv, t), [])

    def test_shared_mx_of_two_domains_shares_the_connection(self):
        # amx.test has no MX; its A record is mx.remote.test's address, so after the lookup
        # yubin finds its open connection to that server and uses it for the other domain.
        t = token()
        first = 'x-%s@remote.test' % t
        second = 'y-%s@amx.test' % t
        submit(self.srv, ALICE, [first], compose(t, ALICE, [first]))
        self.wait_mail(first)
        submit(self.srv, ALICE, [second], compose(t, ALICE, [second]))
        got = self.wait_mail(second)
        qids = set(postfix_ids(self.wait_mail(first)[0]) + postfix_ids(got[0]))
        sessions = wait_for(lambda: 'the session(s) of %s' % qids,
                            lambda: [s for s in postfix_sessions() if qids & set(s['qids'])],
                            5)
        self.assertEqual(len(sessions), 1, 'a second domain with the same server should use '
                         'the open connection; sessions: %s%s' % (sessions, self.diag()))


class OneMessagePerConnection(ReuseCase):
    """outbound-reuse = 1: the same load as above takes a new connection per message (this is
    what makes the assertions above able to fail)."""
    CONFIG = {'outbound-per-domain': '1', 'outbound-reuse': '1', 'outbound-domain-rate': '0'}

    def test_reuse_1_opens_a_connection_per_message(self):
        t = token()
        rcpts = ['n%d-%s@remote.test' % (i, t) for i in range(3)]
        sessions, qids = self.deliver(t, rcpts)
        self.assertEqual(len(sessions), 3, 'sessions: %s' % sessions)
        for s in sessions:
            self.assertEqual((stat(s['end'], 'mail'), stat(s['end'], 'rset'),
                              stat(s['end'], 'quit')), (1, 0, 1), s)


class MixedRecipients(ReuseCase):
    """One message, several recipients at one domain, some refused: PIPELINING at
    mx.remote.test, lock-step at mx.old.test (which does not offer it)."""
    CONFIG = {'outbound-domain-rate': '0', 'queue-retry-min': '300'}
    T = token()
    ANSWERS = {'bad': '550 5.1.1 no such user', 'later': '450 4.2.0 try later'}

    @classmethod
    def setUpClass(cls):
        for domain in ('remote.test', 'old.test'):
            for who, reply in cls.ANSWERS.items():
                base.MX.set_access('%s-%s@%s' % (who, cls.T, domain), reply)
            for i in (1, 2):
                base.MX.set_access('none%d-%s@%s' % (i, cls.T, domain), cls.ANSWERS['bad'])
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for domain in ('remote.test', 'old.test'):
                for who in list(cls.ANSWERS) + ['none1', 'none2']:
                    base.MX.access.pop('%s-%s@%s' % (who, cls.T, domain), None)
            base.MX._write_access()

    def mixed(self, domain, pipelined):
        t = self.T
        ok = ['ok%d-%s@%s' % (i, t, domain) for i in (1, 2, 3)]
        bad, later = 'bad-%s@%s' % (t, domain), 'later-%s@%s' % (t, domain)
        rcpts = [ok[0], bad, ok[1], later, ok[2]]
        msg = compose(t + domain, ALICE, rcpts)
        submit(self.srv, ALICE, rcpts, msg)
        got = [self.wait_mail(r)[0] for r in ok]
        ids = {i for g in got for i in postfix_ids(g)}
        self.assertEqual(len(ids), 1, 'the accepted recipients should get one transaction: %s'
                         % ids)
        # The refused one bounces, with the remote reply; the deferred one waits alone.
        d = self.wait_dsn(t + domain, 'failed', 10)
        self.assertEqual(len(d), 1)
        f = self.assert_dsn_shape(d[0], [bad], 'failed', '5')[bad.lower()]
        self.assertEqual(f.get('status'), '5.1.1', f)
        es = wait_for(lambda: 'a tried entry for %s%s' % (later, self.diag()),
                      lambda: [e for e in entries_for(self.srv, t) if e['attempts'] >= 1
                               and e['domain'] == domain], 5)
        self.assertEqual(len(es), 1, es)
        self.assertEqual(es[0]['rcpts'], [later], 'only the deferred recipient stays queued')
        self.assertIn('try later', es[0]['last'])
        self.assertEqual(base.MX.maildir(bad) + base.MX.maildir(later), [])
        log = self.srv.log_text()
        mark = 'pipelined=%s' % ('yes' if pipelined else 'no')
        self.assertRegex(log, r'event=outbound-result queue=\d+ domain=%s delivered=3 failed=1 '
                         r'deferred=1 .*%s' % (re.escape(domain), mark), log[-3000:])
        self.assertNotIn('improper use of SMTP command pipelining', base.MX.log_text())

    def test_pipelining_mixed_results(self):
        self.mixed('remote.test', True)

    def test_lockstep_mixed_results_without_pipelining(self):
        self.mixed('old.test', False)

    def test_all_refused_sends_no_data(self):
        for domain, pipelined in (('remote.test', True), ('old.test', False)):
            t = self.T
            rcpts = ['none1-%s@%s' % (t, domain), 'none2-%s@%s' % (t, domain)]
            marker = token()
            submit(self.srv, ALICE, rcpts, compose(marker, ALICE, rcpts))
            d = self.wait_dsn(marker, 'failed', 10)
            self.assert_dsn_shape(d[0], rcpts, 'failed', '5')
            self.wait_queue_gone(marker, 5)
            # The connection is still good: the next message to the domain goes over it,
            # after RSET, and arrives.
            after = 'after-%s@%s' % (marker, domain)
            submit(self.srv, ALICE, [after], compose(marker, ALICE, [after]))
            self.wait_mail(after)
            qid = postfix_ids(base.MX.maildir(after)[0])[0]
            s = wait_for('the end of the session of %s' % after,
                         lambda: [x for x in postfix_sessions() if qid in x['qids'] and x['end']],
                         15, 0.3)[0]
            end = s['end']
            self.assertGreaterEqual(stat(end, 'mail'), 2, end)
            self.assertGreaterEqual(stat(end, 'rset'), 1, end)
            # No message data for the refused transaction: only the good one was accepted.
            self.assertEqual(len(s['qids']), stat(end, 'data'), end)
            m = re.search(r'\bdata=(\d+)/(\d+)', end)
            if pipelined:
                # DATA went in the same write and was refused (no valid recipients).
                self.assertTrue(m and int(m.group(2)) > int(m.group(1)), end)
            else:
                self.assertFalse(m, 'lock-step: no DATA when every RCPT was refused: ' + end)
        self.assertNotIn('improper use of SMTP command pipelining', base.MX.log_text())


class RateLimit(ReuseCase):
    """outbound-domain-rate = 12: twelve messages at once, then one every 5 s; the rest wait
    in the queue, marked as waiting for their turn, not as failures."""
    RATE = 12
    CONFIG = {'outbound-domain-rate': str(RATE)}

    def test_over_the_rate_waits_then_goes(self):
        t = token()
        n = self.RATE + 2
        rcpts = ['r%02d-%s@remote.test' % (i, t) for i in range(n)]
        t0 = time.monotonic()
        submit_each(self.srv, t, rcpts)
        arrived = {}

        def poll():
            for r in rcpts:
                if r not in arrived and base.MX.maildir(r):
                    arrived[r] = time.monotonic() - t0
            return arrived
        wait_for(lambda: '%d messages at Postfix (got %d)%s' % (self.RATE, len(arrived),
                                                                 self.diag()),
                 lambda: len(poll()) >= self.RATE, 10, 0.2)
        # The burst is out; the rest are queued, not tried, and say why in plain words.
        waiting = wait_for(lambda: 'two entries marked as waiting%s' % self.diag(),
                           lambda: (lambda es: es if len(es) == 2 and all(
                               'rate' in e['last'] for e in es) else None)(
                                   entries_for(self.srv, t)), 3, 0.2)
        diag = '\narrived: %s\nqueue: %s%s' % (sorted(arrived.values()),
                                               [e['line'] for e in waiting], self.diag())
        self.assertEqual(len(poll()), self.RATE, diag)
        self.assertEqual(len(waiting), 2, diag)
        for e in waiting:
            self.assertEqual(e['attempts'], 0, e['line'])
            self.assertRegex(e['last'], r'(?i)\brate\b', e['line'])
            self.assertIn('outbound-domain-rate', e['last'], e['line'])
            self.assertNotRegex(e['last'], r'^[45]\d\d', 'shown as a failure: ' + e['line'])
            self.assertGreater(parse_next(e['next']), time.time() - 1, e['line'])
        # They go when their turn comes: the bucket refills one every 60/12 = 5 s, so the
        # last can leave no earlier than 10 s after the first message.
        wait_for(lambda: 'all %d messages%s' % (n, diag), lambda: len(poll()) == n, 25, 0.2)
        times = sorted(arrived.values())
        self.assertGreaterEqual(times[-1], 9.0, 'the rate was not kept: %s' % times)
        self.assertGreaterEqual(times[-1] - times[-2], 3.0, 'the waiting two came together: %s'
                                % times)
        self.wait_queue_gone(t, 5)
        self.assertEqual(dsns(self.srv, t), [])
        self.assertEqual([e for e in queue_list(self.srv) if t in e['line']], [])


if __name__ == '__main__':
    unittest.main()
