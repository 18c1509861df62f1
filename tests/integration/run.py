#!/usr/bin/python3
"""Run every tests/integration/test_*.py with unittest; print one line per test and end with
`N passed, N failed`.  Exit 1 if anything failed.

A skipped test counts as failed unless its reason starts with "needs:" (see harness.needs).
A class whose setUpClass fails counts all its tests as failed; a failing tearDownClass (e.g. the
server did not exit 0 after SIGTERM, or `yubin check` failed) counts as one more failure.

Usage: run.py [-k SUBSTRING] [-v]     (-k: only tests whose id contains SUBSTRING)
"""

import argparse
import faulthandler
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


class Result(unittest.TestResult):
    def __init__(self, verbose):
        super().__init__()
        self.verbose = verbose
        self.passed = []
        self.failed = []          # (name, text)
        self.allowed_skips = []
        self.ran = set()
        self.t0 = {}

    def startTest(self, test):
        super().startTest(test)
        self.ran.add(test.id())
        self.t0[test.id()] = time.monotonic()

    def _dt(self, test):
        return time.monotonic() - self.t0.get(test.id(), time.monotonic())

    def _line(self, status, test, extra=''):
        name = test.id() if hasattr(test, 'id') else str(test)
        print('%-4s %s (%.1fs)%s' % (status, name, self._dt(test) if hasattr(test, 'id') else 0,
                                     extra), flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed.append(test.id())
        self._line('PASS', test)

    def _fail(self, test, err, kind):
        text = self._exc_info_to_string(err, test)
        desc = str(test)
        # setUpClass/setUpModule errors: the class's tests never start; they are counted as
        # failed from the list of tests that did not run.
        if isinstance(test, unittest.suite._ErrorHolder) and desc.startswith(('setUp',)):
            print('ERR  %s\n%s' % (desc, _indent(text)), flush=True)
            self.setup_errors = getattr(self, 'setup_errors', []) + [(desc, text)]
            return
        self.failed.append((desc, text))
        print('%s %s (%.1fs)\n%s' % (kind, getattr(test, 'id', lambda: desc)(),
                                     self._dt(test) if hasattr(test, 'id') else 0,
                                     _indent(text)), flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err, 'FAIL')

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err, 'ERR ')

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            # Report each failing subtest; the test itself then is not a success.
            text = self._exc_info_to_string(err, test)
            print('FAIL %s\n%s' % (subtest, _indent(text)), flush=True)
            self.failed.append((str(subtest), text))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if reason.startswith('needs:'):
            self.allowed_skips.append(test.id())
            self._line('SKIP', test, ' ' + reason)
        else:
            self.failed.append((test.id(), 'skipped: ' + reason))
            self._line('SKIP', test, ' %s (counted as failed)' % reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.failed.append((test.id(), 'expectedFailure is not allowed'))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed.append((test.id(), 'unexpected success'))


def _indent(text):
    return '\n'.join('     ' + l for l in text.rstrip().splitlines())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-k', dest='keyword')
    ap.add_argument('-v', action='store_true')
    args = ap.parse_args()
    # Never hang forever: dump stacks and exit if the whole run takes more than 15 minutes.
    faulthandler.dump_traceback_later(900, exit=True)
    suite = unittest.defaultTestLoader.discover(HERE, pattern='test_*.py', top_level_dir=HERE)
    if args.keyword:
        suite = unittest.TestSuite(t for t in iter_tests(suite) if args.keyword in t.id())
    all_ids = [t.id() for t in iter_tests(suite)]
    result = Result(args.v)
    start = time.monotonic()
    suite.run(result)
    # Tests that never ran (setUpClass failed, or a module failed to import) count as failed.
    not_run = [i for i in all_ids if i not in result.ran]
    for i in not_run:
        print('FAIL %s (not run: its class or module setup failed)' % i)
    # A test with failing subtests may still have called addSuccess: count it once, as failed.
    failed_ids = {n.split(' ')[0] for n, _ in result.failed}
    passed = [p for p in result.passed if p not in failed_ids]
    n_failed = len(result.failed) + len(not_run)
    print('\n%d tests in %.1fs' % (len(all_ids), time.monotonic() - start))
    if result.allowed_skips:
        print('%d skipped (needs something absent)' % len(result.allowed_skips))
    print('%d passed, %d failed' % (len(passed), n_failed))
    return 1 if n_failed or not all_ids else 0


if __name__ == '__main__':
    sys.exit(main())
