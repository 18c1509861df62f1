#!/usr/bin/env python3
"""The RFC 7208 SPF conformance suite (openspf.org, as shipped in ../shared/testdata/spf, copied to tests/testdata/spf)
run against yubin's evaluator through build/spf-suite.

Each scenario's zone data answers the evaluator's DNS queries the way the suite's reference
driver (pyspf's testspf.py) serves it: SPF records double as TXT when a name has no TXT,
TIMEOUT makes a query time out, names under "error." that are not in the zone time out,
CNAMEs are followed. Prints a line per failing case and ends with
"spf-suite: N passed, M failed" (rfc7208 and rfc4408 counted together; a line per file
before). Set SPF_SUITE_DIR to where the YAML files are, SPF_SUITE_BIN to the driver,
SPF_SUITE_FILES to a space-separated list of file names, -v to show every case."""
import ipaddress
import os
import signal
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUITE_DIR = os.environ.get("SPF_SUITE_DIR", os.path.join(ROOT, "tests", "testdata", "spf"))
DRIVER = os.environ.get("SPF_SUITE_BIN", os.path.join(ROOT, "build", "spf-suite"))
FILES = os.environ.get("SPF_SUITE_FILES", "rfc7208-tests.yml rfc4408-tests.yml").split()
MAX_CNAME = 10


class Timeout(Exception):
    pass


def load_zone(zonedata):
    """name -> list of (type, value) and 'TIMEOUT' entries, as testspf.py's getrdata()."""
    zone = {}
    for name, entries in (zonedata or {}).items():
        out, gen_txt, gen = [], [], True
        for m in entries or []:
            if not isinstance(m, dict):
                out.append(m)
                continue
            for t, v in m.items():
                if t == "TXT":
                    gen = False
                elif t == "SPF" and gen:
                    gen_txt.append(("TXT", v))
                if v != "NONE":
                    out.append((t, [v] if t in ("TXT", "SPF") and isinstance(v, str) else v))
        if gen:
            out.extend(("TXT", [v] if isinstance(v, str) else v) for _, v in gen_txt)
        zone[str(name).lower().rstrip(".")] = out
    return zone


def records(zone, name, qtype):
    """(status, values) for one name and type, without following CNAMEs."""
    name = name.lower().rstrip(".")
    if name not in zone:
        if name.startswith("error."):
            raise Timeout()
        return "NXDOMAIN", [], None
    timeout, found, cname = True, [], None
    for i in zone[name]:
        if i == "TIMEOUT":
            if timeout:
                raise Timeout()
            continue
        t, v = i
        if t == qtype:
            timeout = False
        if v == "TIMEOUT":
            if t == qtype:
                raise Timeout()
            continue
        if t == qtype:
            found.append(v)
        elif t == "CNAME":
            cname = v
    return "OK", found, cname


def resolve(zone, name, qtype):
    seen = set()
    for _ in range(MAX_CNAME + 1):
        status, found, cname = records(zone, name, qtype)
        if found or not cname:
            return status, found
        key = cname.lower().rstrip(".")
        if key in seen:
            raise Timeout()  # a CNAME loop: a resolver answers SERVFAIL
        seen.add(key)
        name = cname
    raise Timeout()


def encode(qtype, v):
    if qtype == "TXT":
        return "".join(str(s) for s in v).encode("utf-8").hex()
    if qtype in ("A", "AAAA"):
        return ipaddress.ip_address(v).packed.hex()
    if qtype == "MX":
        return str(v[1]).rstrip(".").encode().hex()
    return str(v).rstrip(".").encode().hex()


def answer(zone, qtype, name):
    try:
        status, found = resolve(zone, name, qtype)
    except Timeout:
        return ["ANSWER\tTEMPFAIL\t0"]
    return ["ANSWER\t%s\t%d" % (status, len(found))] + [encode(qtype, v) for v in found]


def run_case(driver, zone, case):
    mailfrom = case.get("mailfrom", "") or ""
    line = "CHECK\t%s\t%s\t%s\n" % (case["host"], case.get("helo", "") or "", mailfrom)
    driver.stdin.write(line)
    driver.stdin.flush()
    queries = []
    while True:
        out = driver.stdout.readline()
        if not out:
            raise RuntimeError("driver exited")
        parts = out.rstrip("\n").split("\t")
        if parts[0] == "QUERY":
            queries.append("%s %s" % (parts[1], parts[2]))
            driver.stdin.write("\n".join(answer(zone, parts[1], parts[2])) + "\n")
            driver.stdin.flush()
        elif parts[0] == "RESULT":
            return parts[1:] + [""] * (5 - len(parts[1:])), queries


def main():
    verbose = "-v" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    if not os.path.isdir(SUITE_DIR):
        print("spf-suite: the test suite is missing: %s (set SPF_SUITE_DIR)" % SUITE_DIR)
        return 2
    if not os.access(DRIVER, os.X_OK):
        print("spf-suite: the driver is missing: %s (make all builds it)" % DRIVER)
        return 2
    signal.alarm(300)  # bounded even if the driver hangs
    total_p = total_f = 0
    for fname in FILES:
        path = os.path.join(SUITE_DIR, fname)
        if not os.path.exists(path):
            print("spf-suite: missing %s" % path)
            return 2
        with open(path, encoding="utf-8") as f:
            scenarios = list(yaml.safe_load_all(f))
        passed = failed = 0
        driver = subprocess.Popen([DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, encoding="utf-8", errors="surrogateescape")
        for sc in scenarios:
            if not sc:
                continue
            zone = load_zone(sc.get("zonedata"))
            for name, case in (sc.get("tests") or {}).items():
                if only and name not in only:
                    continue
                expected = case["result"]
                expected = expected if isinstance(expected, list) else [expected]
                try:
                    (result, mech, expl, nq, reason), queries = run_case(driver, zone, case)
                except RuntimeError as e:
                    driver = subprocess.Popen([DRIVER], stdin=subprocess.PIPE,
                                              stdout=subprocess.PIPE, text=True,
                                              encoding="utf-8", errors="surrogateescape")
                    result, mech, expl, reason, queries = "crash", "", "", str(e), []
                ok = result in expected
                want_exp = case.get("explanation")
                got_exp = expl or ("DEFAULT" if result == "fail" else "")
                if ok and want_exp is not None and result == "fail" and got_exp != want_exp:
                    ok = False
                if ok:
                    passed += 1
                else:
                    failed += 1
                if not ok or verbose:
                    print("%s %s/%s: got %s (%s; %s; exp %r) want %s%s" % (
                        "ok" if ok else "FAIL", fname, name, result, mech, reason, got_exp,
                        "/".join(expected),
                        "" if want_exp is None else " exp %r" % want_exp))
                    if verbose or not ok:
                        print("    queries: %s" % ", ".join(queries))
        driver.stdin.close()
        driver.wait()
        print("%s: %d passed, %d failed" % (fname, passed, failed))
        total_p += passed
        total_f += failed
    print("spf-suite: %d passed, %d failed" % (total_p, total_f))
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main())
