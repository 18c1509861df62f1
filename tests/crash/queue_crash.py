#!/usr/bin/python3
"""Crash safety of the outbound queue: kill -9 while the queue drains, then count what arrived.

Peers (real ones, on loopback, as in tests/integration/test_outbound.py): dnsmasq serving
`remote.test MX 10 mx.remote.test (127.0.0.2)`, and a private Postfix instance listening there
that delivers every remote.test address into one Maildir (virtual(8)).

1. `yubin serve` (outbound-port = Postfix's port, outbound-per-domain = 16, outbound-domain-rate = 0) takes N messages
   (default 200) over submission (587 + offset, STARTTLS, AUTH) from 4 client threads, each
   message with its own Message-ID and its own recipient at remote.test. Every 250 is recorded.
2. While the queue drains, the server is SIGKILLed at random moments (0-1.5 s after it is
   ready; half of them in the first 0.15 s, when the deliveries a start begins are in flight) and
   started again, until `yubin queue list` is empty (bounded: QUEUE_CRASH_SECONDS, default 90).
3. Postfix's queue must then empty too; its Maildir is read and every Message-ID counted.

Checks: every acknowledged message arrived at least once (missing = 0); nothing unknown
arrived; yubin's queue is empty; `yubin check` is ok; no bounce came back to the sender; and
the duplicates stay within the at-least-once bound. A duplicate can only come from a delivery
in flight at a kill (the remote said 250 after the dot, the kill came before the queue entry was
updated), so duplicates must be at most the deliveries whose outcome a kill lost (from yubin's
log: started before a kill and started again after it; at most outbound-per-domain per kill).
The figures are printed.

Environment: YUBIN_BIN (default build/yubin), QUEUE_CRASH_MESSAGES (200), QUEUE_CRASH_SECONDS
(75), QUEUE_CRASH_KEEP=1 keeps the temp dir. Ends with "N passed, N failed"; exits 1 on failure.
"""
import email
import email.policy
import glob
import os
import random
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

from checks import Checks, log

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
if not os.path.isabs(os.environ.get("YUBIN_BIN", "build/yubin")):
    os.environ["YUBIN_BIN"] = os.path.join(REPO, os.environ.get("YUBIN_BIN", "build/yubin"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402
from harness import DEFAULT_PASSWORD, Server  # noqa: E402
import test_outbound  # noqa: E402  (its dnsmasq and Postfix fixtures)
from test_outbound import DNS_ADDR, DnsServer, RemoteMX  # noqa: E402

N_MESSAGES = int(os.environ.get("QUEUE_CRASH_MESSAGES", "200"))
DRAIN_SECONDS = float(os.environ.get("QUEUE_CRASH_SECONDS", "90"))
KEEP = os.environ.get("QUEUE_CRASH_KEEP") == "1"
CONCURRENCY = 16          # outbound-per-domain; also the agent's MAX_ACTIVE
CLIENTS = 4
SENDER = "alice@example.test"
START = time.monotonic()








def compose(run, i):
    mid = "<qc.%d.%s@example.test>" % (i, run)
    rcpt = "r%d-%s@remote.test" % (i, run)
    body = ("Queue crash test message %d.\r\n" % i + "x" * random.randint(0, 3000) + "\r\n"
            ".a line with a leading dot\r\n")
    msg = ("From: Alice <%s>\r\nTo: <%s>\r\nSubject: queue crash %d\r\nMessage-ID: %s\r\n"
           "Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n\r\n%s" % (SENDER, rcpt, i, mid, body))
    return mid, rcpt, msg.encode()


def submit_all(srv, run):
    """Submit N messages from CLIENTS threads; returns ({mid: rcpt} acknowledged, errors)."""
    acked, errors = {}, []
    lock = threading.Lock()
    todo = list(range(N_MESSAGES))

    def client():
        s = None
        while True:
            with lock:
                if not todo:
                    break
                i = todo.pop()
            mid, rcpt, msg = compose(run, i)
            try:
                if s is None:
                    s = smtplib.SMTP("127.0.0.1", srv.port_offset + 587, timeout=30)
                    s.starttls(context=harness.client_tls_context())
                    s.ehlo()
                    s.login(SENDER, DEFAULT_PASSWORD)
                s.sendmail(SENDER, [rcpt], msg)   # raises unless 250
                with lock:
                    acked[mid] = rcpt
            except (OSError, smtplib.SMTPException) as e:
                with lock:
                    errors.append("%s: %r" % (mid, e))
                s = None
        if s is not None:
            try:
                s.quit()
            except (OSError, smtplib.SMTPException):
                pass

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return acked, errors


def queue_count(srv):
    cp = srv.run("queue", "list", check=False)
    if cp.returncode != 0:
        return None
    return len([l for l in cp.stdout.decode(errors="replace").splitlines() if l.strip()])


def cut_short(lives):
    """Deliveries whose outcome a kill lost: started in a life that ended in a kill, and
    started again in a later life, unless that life's log shows the other server deferred them
    (a 4xx is retried anyway). Their result may have been logged: what counts is that it was
    not committed before the kill. lives: the log text of each life, in order."""
    started = [set(re.findall(r"event=outbound-start queue=(\d+)", l)) for l in lives]
    deferred = [set(re.findall(r"event=outbound-result queue=(\d+) \S+ delivered=\d+ "
                               r"failed=\d+ deferred=[1-9]", l)) for l in lives]
    lost = 0
    for k in range(len(lives) - 1):
        later = set().union(*started[k + 1:])
        lost += len((started[k] & later) - deferred[k])
    return lost


def postfix_queue_empty(mx):
    cp = subprocess.run(["postqueue", "-c", mx.conf, "-p"], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=30)
    return b"Mail queue is empty" in cp.stdout


def delivered(mx):
    """{Message-ID: [Delivered-To of each copy]} from Postfix's remote.test Maildir."""
    out = {}
    for p in glob.glob(os.path.join(mx.vmail, "remote.test", "new", "*")) + \
            glob.glob(os.path.join(mx.vmail, "remote.test", "cur", "*")):
        with open(p, "rb") as f:
            head = f.read().split(b"\n\n", 1)[0]
        m = email.message_from_bytes(head, policy=email.policy.compat32)
        out.setdefault((m.get("Message-ID") or "").strip(), []).append(
            (m.get("Delivered-To") or "").strip().lower())
    return out


def main():
    checks = Checks()
    tmp = tempfile.mkdtemp(prefix="yubin-queue-crash-")
    os.chmod(tmp, 0o755)
    dns = mx = srv = None
    run = "%08x" % random.getrandbits(32)
    try:
        dns = DnsServer(tmp)
        dns.start()
        mx = RemoteMX(tmp)
        # The remote waits a second before its 354 (as a busy provider's checks do): the queue
        # drains over many seconds and the kills find deliveries in flight. (A remote that
        # waits after the body, before its final 250, makes every kill a duplicate of what is
        # in flight: the RFC 1047 window, measured once in the notes, not here.) Without a
        # delay the queue is empty before the second kill.
        mx.postconf('-e', 'smtpd_data_restrictions=reject_unauth_pipelining, sleep 1')
        mx.start()
        log("dnsmasq on %s:%d, Postfix on 127.0.0.2:%d" % (DNS_ADDR, dns.port, mx.port))
        srv = Server(accounts=[SENDER], config={
            "outbound-port": str(mx.port), "resolver": "%s@%d" % (DNS_ADDR, dns.port),
            "outbound-per-domain": str(CONCURRENCY), "queue-retry-min": "1",
            "queue-retry-max": "2", "max-messages-per-user-hour": "0",
            # crash safety, not pacing: the default 120 a minute would leave most of the
            # queue waiting its turn when the time bound ends
            "outbound-domain-rate": "0"})
        srv.__enter__()
        t0 = time.monotonic()
        acked, errors = submit_all(srv, run)
        log("submitted: %d of %d acknowledged in %.1f s" % (len(acked), N_MESSAGES,
                                                            time.monotonic() - t0))
        checks.check(len(acked) == N_MESSAGES and not errors,
                     "all %d submissions acknowledged (250)" % N_MESSAGES,
                     "%d acknowledged; errors: %s" % (len(acked), errors[:3]))

        # Kill while the queue drains.
        kills, died_alone, restart_failures, offsets = 0, [], [], []
        deadline = time.monotonic() + DRAIN_SECONDS
        left = queue_count(srv)
        log("queue entries left when the kills start: %s" % left)
        while time.monotonic() < deadline:
            # Half of the kills aim at the burst of deliveries a fresh start begins with (what
            # is due starts at once and takes ~0.05-0.2 s here), the rest at any moment.
            time.sleep(random.uniform(0.0, 0.15) if random.random() < 0.5
                       else random.uniform(0.3, 1.5))
            if not srv.alive():
                died_alone.append(srv.proc.returncode if srv.proc else None)
            offsets.append(os.path.getsize(srv.log_path))
            srv.kill9()
            kills += 1
            left = queue_count(srv)
            try:
                srv.serve()
            except harness.HarnessError as e:
                restart_failures.append(str(e)[:500])
                break
            if left == 0:
                break
        drain_time = time.monotonic() - t0
        log("kills: %d; queue entries left at the last kill: %s" % (kills, left))
        # Let the last life finish what is left (bounded), then stop cleanly.
        end = time.monotonic() + 30
        while srv.alive() and time.monotonic() < end and queue_count(srv) != 0:
            time.sleep(0.3)
        checks.check(not died_alone, "server never exits on its own", str(died_alone))
        checks.check(not restart_failures, "server restarts after every SIGKILL",
                     "; ".join(restart_failures))
        checks.check(kills >= 5, "server killed while the queue drained (%d kills)" % kills)
        checks.check(queue_count(srv) == 0, "yubin's queue is empty at the end",
                     srv.run("queue", "list", check=False).stdout.decode(errors="replace")[:2000])
        checks.check(srv.stop(assert_clean=False) == 0, "SIGTERM: serve exits 0", srv.log_tail())

        cp = srv.run("check", check=False)
        out = (cp.stdout + cp.stderr).decode(errors="replace").strip()
        checks.check(cp.returncode == 0, "yubin check (%s)" % out.splitlines()[-1:], out[-2000:])
        bounces = [m for m in srv.export_maildir(SENDER) if m.startswith(b"Return-Path: <>")]
        checks.check(not bounces, "no bounce came back to the sender",
                     "%d, e.g. %r" % (len(bounces), bounces[:1]))

        end = time.monotonic() + 30
        while not postfix_queue_empty(mx) and time.monotonic() < end:
            time.sleep(0.3)
        checks.check(postfix_queue_empty(mx), "Postfix delivered everything it accepted")
        got = delivered(mx)
        missing = [m for m in acked if m not in got]
        unknown = [m for m in got if m not in acked]
        wrong = [m for m, rc in acked.items() if m in got and set(got[m]) != {rc.lower()}]
        copies = sum(len(v) for v in got.values())
        duplicates = sum(len(v) - 1 for m, v in got.items() if m in acked)
        with open(srv.log_path, "rb") as f:
            log_bytes = f.read()
        # The log of each life: up to the first kill, between kills, after the last one.
        cuts = [0] + offsets + [len(log_bytes)]
        interrupted = cut_short([log_bytes[a:b].decode(errors="replace")
                                 for a, b in zip(cuts, cuts[1:])])
        checks.check(not missing, "every acknowledged message arrived at least once",
                     "%d missing, e.g. %s" % (len(missing), missing[:5]))
        checks.check(not unknown, "nothing arrived that was not sent", str(unknown[:5]))
        checks.check(not wrong, "each message arrived for its own recipient", str(wrong[:5]))
        checks.check(duplicates <= interrupted,
                     "duplicates (%d) within the deliveries whose outcome a kill lost (%d)"
                     % (duplicates, interrupted))
        checks.check(duplicates <= kills * CONCURRENCY,
                     "duplicates (%d) within kills x concurrency (%d x %d)"
                     % (duplicates, kills, CONCURRENCY))
        print()
        print("messages acknowledged: %d; arrived: %d distinct, %d copies; missing: %d; "
              "duplicates: %d (%.2f%%)" % (len(acked), len([m for m in got if m in acked]),
                                           copies, len(missing), duplicates,
                                           100.0 * duplicates / max(1, len(acked))))
        print("kills: %d; deliveries whose outcome a kill lost (tried again): %d; most copies of "
              "one message: "
              "%d; drain time with kills: %.1f s; total %.1f s"
              % (kills, interrupted, max([len(v) for v in got.values()] or [0]), drain_time,
                 time.monotonic() - START))
    except Exception as e:  # a crash of the test itself counts as a failure
        import traceback
        traceback.print_exc()
        checks.check(False, "test ran to completion", repr(e))
    finally:
        if srv is not None:
            try:
                srv.stop(assert_clean=False)
            except Exception:
                pass
        if mx:
            mx.stop()
        if dns:
            dns.stop()
        if srv is not None and (KEEP or checks.failed):
            print("kept %s and %s (data dir, serve.log, Postfix maildir)" % (srv.parent, tmp))
        else:
            if srv is not None:
                srv.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
