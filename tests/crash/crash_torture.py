#!/usr/bin/python3
"""Crash-safety torture test: kill -9 under load, then verify every acknowledged message.

A `yubin serve` in a temp data dir gets mail from 8 client threads (smtplib) while a killer thread
SIGKILLs it at random moments (0.2-1.5 s apart, at least 10 times) and starts it again. Each
logical message goes to 1-3 of 4 accounts and is retried until one attempt gets 250 after DATA.
Every attempt has its own Message-ID and is recorded as:

  acked     250 after DATA: must be in each recipient's mailbox exactly once, byte-identical
  lost      the end of data was sent but no reply came (server killed): may be present or
            absent, at most once per recipient, and byte-identical if present
  rejected  an explicit 4xx/5xx after DATA: the server refused it, so it must be absent
  unsent    failed before the end of data: the server never saw the whole message

At the end: SIGTERM (exit 0), `yubin check` (exit 0), `yubin export --maildir` of every account,
and the checks above; mailboxes must hold nothing else. Stored message = `Return-Path: <s>` +
`Received: ...` (folded) + the exact bytes sent (dot-unstuffed).

Environment: YUBIN_BIN (binary, default build/yubin), CRASH_MESSAGES (default 2000),
CRASH_MIN_KILLS (default 10), CRASH_MIN_LOAD_SECONDS (default 15: messages are released evenly
over at least this long so that the kills fall under load), CRASH_KEEP=1 keeps the temp dir.
Total time is bounded (~4 minutes). Ends with "N passed, N failed"; exits 1 on any failure.
"""
import email.utils
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time

from checks import Checks, log

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("YUBIN_BIN") or os.path.join(REPO, "build", "yubin")
if not os.path.isabs(BIN):
    BIN = os.path.abspath(BIN)
N_MESSAGES = int(os.environ.get("CRASH_MESSAGES", "2000"))
MIN_KILLS = int(os.environ.get("CRASH_MIN_KILLS", "10"))
MIN_LOAD_SECONDS = float(os.environ.get("CRASH_MIN_LOAD_SECONDS", "15"))
KEEP = os.environ.get("CRASH_KEEP") == "1"
CLIENTS = 8
DOMAIN = "example.test"
ACCOUNTS = ["a%d@%s" % (i, DOMAIN) for i in range(4)]
SENDER = "torture@sender.test"
START = time.monotonic()
SEND_DEADLINE = START + 170  # clients and killer stop by then; verification follows
STANDARD_PORTS = (25, 80, 110, 143, 443, 465, 587, 993, 995)
IO_TIMEOUT = 15.0




# ------------------------------------------------------------------ checks



# ------------------------------------------------------------------ server

def port_free(p):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_port_offset():
    for _ in range(500):
        n = random.randint(20000, 39000)
        if all(port_free(p + n) for p in STANDARD_PORTS):
            return n
    raise RuntimeError("no free port offset")


def yubin(*args, data, input=b"", timeout=120):
    return subprocess.run([BIN, *args, "--data", data], input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


class Server:
    def __init__(self, data, port, log_path):
        self.data, self.port, self.log_path = data, port, log_path
        self.proc = None
        self.lock = threading.Lock()
        self.starts = 0
        self.start_failures = []
        self.died_alone = []    # exit codes of server processes that ended before our SIGKILL

    def start(self, timeout=20.0):
        """Start serve and wait until it greets; returns True when it listens."""
        with open(self.log_path, "ab") as lf:
            lf.write(b"---- crash_torture: start %d\n" % (self.starts + 1))
            lf.flush()
            for tries in range(5):
                try:
                    self.proc = subprocess.Popen([BIN, "serve", "--data", self.data],
                                                 stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
                    break
                except OSError as e:  # e.g. the binary being rebuilt at this very moment
                    if tries == 4:
                        self.start_failures.append("cannot run %s: %s" % (BIN, e))
                        return False
                    time.sleep(0.5)
        self.starts += 1
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                self.start_failures.append("exit %s before listening" % self.proc.returncode)
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.settimeout(5)
                    if s.recv(512).startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        self.start_failures.append("not listening after %.0f s" % timeout)
        return False

    def kill9(self):
        if self.proc.poll() is not None:
            self.died_alone.append(self.proc.returncode)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "timeout (killed)"

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


# ------------------------------------------------------------------ messages

DOT_RE = re.compile(rb"(?m)^\.")
PRINTABLE = bytes(range(0x20, 0x7F))
HIGH = bytes(range(0x80, 0x100))


def make_body(rng, size, eight_bit):
    lines = []
    n = 0
    while n < size:
        kind = rng.random()
        if kind < 0.04:
            line = b"."                      # a lone dot: must be dot-stuffed on the wire
        elif kind < 0.10:
            line = b"." + bytes(rng.choice(PRINTABLE) for _ in range(rng.randint(1, 60)))
        elif kind < 0.14:
            line = b""
        elif kind < 0.17:
            line = b"From the start of a line, " + b"x" * rng.randint(0, 40)
        else:
            ln = rng.randint(1, 200)
            if eight_bit and rng.random() < 0.5:
                alphabet = PRINTABLE + HIGH
            else:
                alphabet = PRINTABLE
            line = bytes(rng.choice(alphabet) for _ in range(ln))
        lines.append(line)
        n += len(line) + 2
    return b"\r\n".join(lines) + b"\r\n"


def make_message(rng, logical, attempt, rcpts, body, eight_bit):
    mid = "<crash.L%d.A%d.%08x@client.test>" % (logical, attempt, rng.getrandbits(32))
    hdr = ("Message-ID: %s\r\n"
           "From: Torture <%s>\r\n"
           "To: %s\r\n"
           "Subject: crash torture message %d attempt %d\r\n"
           "Date: %s\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=%s\r\n"
           "Content-Transfer-Encoding: %s\r\n\r\n") % (
        mid, SENDER, ", ".join("<%s>" % r for r in rcpts), logical, attempt,
        email.utils.formatdate(localtime=True),
        "iso-8859-1" if eight_bit else "us-ascii", "8bit" if eight_bit else "7bit")
    return mid, hdr.encode() + body


class Attempt:
    __slots__ = ("mid", "logical", "rcpts", "data", "state", "detail")

    def __init__(self, mid, logical, rcpts, data):
        self.mid, self.logical, self.rcpts, self.data = mid, logical, rcpts, data
        self.state = "unsent"
        self.detail = ""


# ------------------------------------------------------------------ load

class Load:
    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.next_logical = 0
        self.attempts = {}          # mid -> Attempt
        self.acked_logical = 0
        self.kills = 0              # updated by the killer
        self.t0 = None
        self.stop = threading.Event()
        self.errors = {}            # kind -> count
        self.max_attempts = 0

    def count_error(self, kind):
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def take(self):
        """Next logical message number, released evenly over MIN_LOAD_SECONDS and held back
        until enough kills have happened, so that the kills fall while mail is being sent."""
        with self.lock:
            i = self.next_logical
            if i >= N_MESSAGES:
                return None
            self.next_logical += 1
        while not self.stop.is_set():
            due = self.t0 + MIN_LOAD_SECONDS * i / N_MESSAGES
            need_kills = min(MIN_KILLS, (MIN_KILLS + 1) * i // N_MESSAGES)
            if time.monotonic() >= due and self.kills >= need_kills:
                return i
            time.sleep(0.01)
        return None

    def client(self, cid):
        rng = random.Random(cid * 7919 + int(time.time()))
        smtp = None
        while not self.stop.is_set():
            logical = self.take()
            if logical is None:
                break
            rcpts = rng.sample(ACCOUNTS, rng.randint(1, 3))
            eight_bit = rng.random() < 0.3
            body = make_body(rng, rng.randint(1024, 20 * 1024), eight_bit)
            attempt_no = 0
            while not self.stop.is_set():
                attempt_no += 1
                mid, data = make_message(rng, logical, attempt_no, rcpts, body, eight_bit)
                at = Attempt(mid, logical, rcpts, data)
                with self.lock:
                    self.attempts[mid] = at
                    self.max_attempts = max(self.max_attempts, attempt_no)
                if smtp is None:
                    try:
                        smtp = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.test",
                                            timeout=IO_TIMEOUT)
                        smtp.ehlo()
                    except (OSError, smtplib.SMTPException) as e:
                        self.count_error("connect: " + type(e).__name__)
                        smtp = self._close(smtp)
                        time.sleep(rng.uniform(0.02, 0.1))
                        continue
                ok, smtp = self.send(smtp, at, eight_bit)
                if ok:
                    with self.lock:
                        self.acked_logical += 1
                    # now and then end the session, as real clients do
                    if rng.random() < 0.05:
                        try:
                            smtp.quit()
                        except (OSError, smtplib.SMTPException):
                            pass
                        smtp = None
                    break
                time.sleep(rng.uniform(0.0, 0.05))
        self._close(smtp)

    @staticmethod
    def _close(smtp):
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass
        return None

    def send(self, smtp, at, eight_bit):
        """One attempt on an open session. Returns (acked, session or None)."""
        try:
            opts = ["BODY=8BITMIME"] if eight_bit and smtp.has_extn("8bitmime") else []
            code, resp = smtp.mail(SENDER, opts)
            if code != 250:
                self.count_error("MAIL %d" % code)
                smtp.rset()
                return False, smtp
            for r in at.rcpts:
                code, resp = smtp.rcpt(r)
                if code != 250:
                    self.count_error("RCPT %d" % code)
                    smtp.rset()
                    return False, smtp
            smtp.putcmd("data")
            code, resp = smtp.getreply()
            if code != 354:
                self.count_error("DATA %d" % code)
                smtp.rset()
                return False, smtp
            # From here on the server may have the whole message: until a reply arrives the
            # attempt is "lost" (may or may not be stored).
            q = DOT_RE.sub(b"..", at.data) + b".\r\n"
            at.state = "lost"
            smtp.send(q)
            code, resp = smtp.getreply()
            if code == 250:
                at.state = "acked"
                return True, smtp
            at.state = "rejected"
            at.detail = "%d %s" % (code, resp.decode(errors="replace"))
            self.count_error("end of data %d" % code)
            return False, smtp
        except (OSError, smtplib.SMTPException) as e:
            self.count_error(("lost: " if at.state == "lost" else "unsent: ") + type(e).__name__)
            return False, self._close(smtp)


def killer(server, load, rng, restart_failures):
    try:
        kill_loop(server, load, rng, restart_failures)
    except Exception as e:  # never leave the clients waiting for kills that won't come
        restart_failures.append("killer: %r" % e)
        load.stop.set()


def kill_loop(server, load, rng, restart_failures):
    while not load.stop.is_set() and time.monotonic() < SEND_DEADLINE:
        time.sleep(rng.uniform(0.2, 1.5))
        if load.stop.is_set():
            break
        server.kill9()
        ok = server.start()
        with load.lock:
            load.kills += 1
        if not ok:
            restart_failures.append(server.start_failures[-1] if server.start_failures else "?")
            # try once more so the rest of the test can go on
            if not server.start():
                load.stop.set()
                break


# ------------------------------------------------------------------ verification

TRACE_RE = re.compile(rb"\AReturn-Path: <([^>\r\n]*)>\r\nReceived: [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*")
MID_RE = re.compile(rb"^Message-ID: (<[^>\r\n]+>)\r\n")


def read_export(path):
    """Map Message-ID -> list of (stored bytes after the trace headers, problem or None)."""
    found = {}
    strays = []
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                raw = f.read()
            m = TRACE_RE.match(raw)
            if not m:
                strays.append("%s: no Return-Path/Received trace headers: %r" % (name, raw[:120]))
                continue
            rest = raw[m.end():]
            problem = None
            if m.group(1) != SENDER.encode():
                problem = "Return-Path <%s>" % m.group(1).decode(errors="replace")
            mm = MID_RE.match(rest)
            if not mm:
                strays.append("%s: no Message-ID first after trace headers: %r" % (name, rest[:120]))
                continue
            found.setdefault(mm.group(1).decode(), []).append((rest, problem))
    return found, strays


def verify(checks, load, exports):
    attempts = load.attempts
    by_state = {}
    for at in attempts.values():
        by_state[at.state] = by_state.get(at.state, 0) + 1
    unacked_present = 0
    partial_unacked = []
    for acct in ACCOUNTS:
        found, strays = exports.get(acct, ({}, ["export failed"]))
        missing, dup, differ, lost_dup, lost_differ, rejected_present, unknown, misaddressed = \
            [], [], [], [], [], [], [], []
        for mid, copies in found.items():
            at = attempts.get(mid)
            if at is None:
                unknown.append(mid)
                continue
            if acct not in at.rcpts:
                misaddressed.append(mid)
                continue
            bad = [p for rest, p in copies if rest != at.data or p]
            if at.state == "acked":
                if len(copies) != 1:
                    dup.append("%s x%d" % (mid, len(copies)))
                if bad:
                    differ.append(mid + ": " + describe_diff(copies[0][0], at.data, copies[0][1]))
            elif at.state == "lost":
                unacked_present += 1
                if len(copies) != 1:
                    lost_dup.append("%s x%d" % (mid, len(copies)))
                if bad:
                    lost_differ.append(mid + ": " + describe_diff(copies[0][0], at.data, copies[0][1]))
            else:
                rejected_present.append("%s (%s: %s)" % (mid, at.state, at.detail))
        for at in attempts.values():
            if at.state == "acked" and acct in at.rcpts and at.mid not in found:
                missing.append(at.mid)
        n_acked = sum(1 for at in attempts.values() if at.state == "acked" and acct in at.rcpts)
        checks.check(not missing, "%s: all %d acknowledged messages present" % (acct, n_acked),
                     "%d missing, e.g. %s" % (len(missing), missing[:5]))
        checks.check(not dup, "%s: acknowledged messages stored exactly once" % acct,
                     "%d duplicated, e.g. %s" % (len(dup), dup[:5]))
        checks.check(not differ, "%s: acknowledged messages byte-identical" % acct,
                     "%d differ, e.g. %s" % (len(differ), differ[:3]))
        checks.check(not lost_dup and not lost_differ,
                     "%s: unacknowledged attempts present at most once and intact" % acct,
                     "duplicated %s; differing %s" % (lost_dup[:5], lost_differ[:3]))
        checks.check(not rejected_present,
                     "%s: attempts refused after DATA (4xx/5xx) or never finished are absent" % acct,
                     "%d present, e.g. %s" % (len(rejected_present), rejected_present[:5]))
        checks.check(not unknown and not misaddressed and not strays,
                     "%s: no stray, unknown or misaddressed messages" % acct,
                     "unknown %s; misaddressed %s; strays %s" % (unknown[:5], misaddressed[:5],
                                                                 strays[:3]))
    # informational: an unacknowledged attempt stored for some of its recipients but not others
    for at in attempts.values():
        if at.state == "lost" and len(at.rcpts) > 1:
            present = [a for a in at.rcpts if at.mid in exports.get(a, ({}, []))[0]]
            if present and len(present) != len(at.rcpts):
                partial_unacked.append(at.mid)
    return by_state, unacked_present, partial_unacked


def describe_diff(stored, sent, problem):
    if problem:
        return problem
    n = min(len(stored), len(sent))
    i = next((k for k in range(n) if stored[k] != sent[k]), n)
    return "stored %d bytes, sent %d, first difference at %d: stored %r sent %r" % (
        len(stored), len(sent), i, stored[max(0, i - 10):i + 20], sent[max(0, i - 10):i + 20])


# ------------------------------------------------------------------ main

def main():
    checks = Checks()
    if not os.access(BIN, os.X_OK):
        print("yubin binary not found: %s (run make or set YUBIN_BIN)" % BIN)
        print("0 passed, 1 failed")
        return 1
    parent = tempfile.mkdtemp(prefix="yubin-crash-")
    os.chmod(parent, 0o755)
    data = os.path.join(parent, "data")
    offset = pick_port_offset()
    port = 25 + offset
    server = Server(data, port, os.path.join(parent, "serve.log"))
    load = Load(port)
    try:
        r = yubin("init", "--domain", DOMAIN, "--port-offset", str(offset), data=data)
        if not checks.check(r.returncode == 0, "yubin init", r.stderr.decode(errors="replace")):
            return finish(checks)
        with open(os.path.join(data, "yubin.conf"), "a") as f:
            # crash safety, not mail authentication: no DNS lookups for loopback mail
            f.write("\ntrusted-networks = 127.0.0.0/8, ::1\nresolver = 127.0.0.1@9\n")
        for a in ACCOUNTS:
            r = yubin("account", "add", a, data=data, input=b"Torture-pass-123\n")
            checks.check(r.returncode == 0, "account add %s" % a, r.stderr.decode(errors="replace"))
        if not checks.check(server.start(), "server starts and listens on 127.0.0.1:%d" % port,
                            server.log_tail()):
            return finish(checks)
        log("server listening on 127.0.0.1:%d; %d messages, %d clients, >= %d kills"
            % (port, N_MESSAGES, CLIENTS, MIN_KILLS))

        restart_failures = []
        load.t0 = time.monotonic()
        threads = [threading.Thread(target=load.client, args=(i,), daemon=True)
                   for i in range(CLIENTS)]
        kt = threading.Thread(target=killer, args=(server, load, random.Random(), restart_failures),
                              daemon=True)
        for t in threads:
            t.start()
        kt.start()
        last = time.monotonic()
        while any(t.is_alive() for t in threads):
            if time.monotonic() > SEND_DEADLINE:
                load.stop.set()
            time.sleep(0.2)
            if time.monotonic() - last >= 5:
                last = time.monotonic()
                log("acknowledged %d/%d, attempts %d, kills %d"
                    % (load.acked_logical, N_MESSAGES, len(load.attempts), load.kills))
        for t in threads:
            t.join(IO_TIMEOUT + 5)
        load.stop.set()
        kt.join(60)
        send_time = time.monotonic() - load.t0
        log("load done in %.1f s: acknowledged %d/%d, kills %d"
            % (send_time, load.acked_logical, N_MESSAGES, load.kills))

        checks.check(load.acked_logical == N_MESSAGES,
                     "every message acknowledged (after retries) within the time limit",
                     "%d of %d" % (load.acked_logical, N_MESSAGES))
        checks.check(load.kills >= MIN_KILLS, "server killed with SIGKILL at least %d times under load"
                     % MIN_KILLS, "only %d" % load.kills)
        checks.check(not server.died_alone, "server never exits on its own under load",
                     "exit codes %s; log:\n%s" % (server.died_alone, server.log_tail()))
        checks.check(not restart_failures, "server restarts after every SIGKILL (%d restarts)"
                     % load.kills, "%s; log:\n%s" % (restart_failures[:3], server.log_tail()))

        if server.proc is None or server.proc.poll() is not None:
            server.start()
        rc = server.terminate()
        checks.check(rc == 0, "SIGTERM: serve exits 0", "exit %s; log:\n%s" % (rc, server.log_tail()))

        r = yubin("check", data=data, timeout=60)
        out = (r.stdout + r.stderr).decode(errors="replace").strip()
        checks.check(r.returncode == 0, "yubin check exits 0 (%s)" % out.splitlines()[-1:],
                     out[-2000:])

        exports = {}
        for a in ACCOUNTS:
            d = os.path.join(parent, "export-" + a.split("@")[0])
            r = yubin("export", a, "--maildir", d, data=data, timeout=30)
            if checks.check(r.returncode == 0, "export %s" % a,
                            (r.stdout + r.stderr).decode(errors="replace")):
                exports[a] = read_export(d)

        by_state, unacked_present, partial = verify(checks, load, exports)
        stored_total = sum(len(c) for f, s in exports.values() for c in f.values())
        print()
        print("messages acknowledged: %d of %d (attempts: %s; most attempts for one message: %d)"
              % (load.acked_logical, N_MESSAGES,
                 ", ".join("%s %d" % kv for kv in sorted(by_state.items())), load.max_attempts))
        print("kills: %d, restarts: %d (server starts in all: %d)"
              % (load.kills, load.kills, server.starts))
        print("unacknowledged but present (recipient copies): %d; stored for only some of their "
              "recipients: %d" % (unacked_present, len(partial)))
        print("client errors: %s" % (", ".join("%s %d" % kv for kv in sorted(load.errors.items()))
                                     or "none"))
        print("message copies in the export: %d; load time %.1f s; total %.1f s"
              % (stored_total, send_time, time.monotonic() - START))
        return finish(checks)
    except Exception as e:  # a crash of the test itself counts as a failure
        import traceback
        traceback.print_exc()
        checks.check(False, "test ran to completion", repr(e))
        return finish(checks)
    finally:
        load.stop.set()
        if server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
        if KEEP or checks.failed:
            print("kept %s (data dir, serve.log, exports)" % parent)
        if not KEEP and not checks.failed:
            shutil.rmtree(parent, ignore_errors=True)


def finish(checks):
    print("%d passed, %d failed" % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
