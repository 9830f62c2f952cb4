"""Runs one test module of tests/python under unittest, for CTest.

Exits 0 when the tests pass, 1 when one fails, and 77 (the tests' SKIP_RETURN_CODE) when every
test was skipped, which is what happens on a Python version that libmprofile.so does not support
yet: CTest then reports the test as skipped rather than passed.
"""

import os
import sys
import unittest

SKIPPED = 77


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[1:])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        return 1
    if result.skipped and len(result.skipped) >= result.testsRun:
        reasons = sorted({reason for _, reason in result.skipped})
        print("all tests skipped: %s" % "; ".join(reasons))
        return SKIPPED
    return 0


if __name__ == "__main__":
    sys.exit(main())
