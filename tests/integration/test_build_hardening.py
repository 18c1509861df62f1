"""Build hardening (issue 9): the server binary is a position-independent executable with
read-only relocations bound at start (RELRO + BIND_NOW), a stack protector, and (outside the
sanitizer build) _FORTIFY_SOURCE's checked libc calls."""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN  # noqa


def readelf(*args):
    return subprocess.run([shutil.which('readelf') or 'readelf', *args, BIN],
                          capture_output=True, text=True, check=True).stdout


class BuildHardening(unittest.TestCase):
    def test_pie(self):
        self.assertIn('DYN', readelf('-h'), 'not a position-independent executable')

    def test_full_relro(self):
        self.assertIn('GNU_RELRO', readelf('-l'))
        dyn = readelf('-d')
        self.assertTrue('BIND_NOW' in dyn or 'NOW' in dyn, 'no -z now:\n' + dyn)

    def test_stack_protector_and_fortify(self):
        syms = readelf('--dyn-syms', '-W')
        self.assertIn('__stack_chk_fail', syms)
        if not os.environ.get('YUBIN_SANITIZED'):
            self.assertRegex(syms, r'__(memcpy|snprintf|printf|fprintf)_chk',
                             'no fortified libc calls: built without _FORTIFY_SOURCE?')


if __name__ == '__main__':
    unittest.main()
