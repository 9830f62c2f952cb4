"""mprofile against tracemalloc on the same workload (workload.py), each in its own subprocess.

Exact mode must give tracemalloc's numbers for the workload's lines, by line and by traceback.
Sampled mode must give estimates within 4 standard errors of tracemalloc's exact bytes, where the
standard error of a sum of Poisson-sampled bytes is at most sqrt(R * bytes), and must find, with
get_object_traceback(), exactly the sampled instances of a class with __slots__.
"""

import math
import os
import unittest

import support

WORKLOAD = os.path.join(support.HERE, "workload.py")
MARKERS = ("# LINE: bytes", "# LINE: bytearray", "# LINE: repeat", "# LINE: slots")
LINES = {marker: support.line_of(marker, WORKLOAD) for marker in MARKERS}
N_EXACT = 2000
N_SAMPLED = 20000
RATE = 4096


def setUpModule():
    support.skip_if_unsupported()


def run_workload(tool, frames, n, rate=None):
    args = [WORKLOAD, tool, str(frames), str(n)]
    if rate is not None:
        args.append(str(rate))
    # The reference runs without the preload: tracemalloc alone, as users run it.
    drop = ("LD_PRELOAD",) if tool == "tracemalloc" else ()
    result, _ = support.run_json(args, drop=drop)
    own = {str(line) for line in LINES.values()}
    result["lineno"] = {line: v for line, v in result["lineno"].items() if line in own}
    result["traceback"] = [t for t in result["traceback"] if str(t[0][0][1]) in own]
    return result


class ExactModeTest(unittest.TestCase):
    def check_equal(self, frames):
        reference = run_workload("tracemalloc", frames, N_EXACT)
        for rate in (0, 1):
            with self.subTest(sample_rate=rate):
                ours = run_workload("mprofile", frames, N_EXACT, rate)
                self.assertEqual(ours["sample_rate"], 1)
                self.assertEqual(len(reference["lineno"]), len(MARKERS), reference)
                self.assertEqual(ours["lineno"], reference["lineno"])
                self.assertEqual(ours["traceback"], reference["traceback"])
                self.assertEqual(ours["slots_found"], N_EXACT)
                self.assertEqual(ours["slots_found_lines"], [LINES["# LINE: slots"]])

    def test_statistics_equal_tracemalloc(self):
        self.check_equal(frames=25)

    def test_statistics_equal_tracemalloc_one_frame(self):
        self.check_equal(frames=1)


class SampledModeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reference = run_workload("tracemalloc", 3, N_SAMPLED)
        cls.ours = run_workload("mprofile", 3, N_SAMPLED, RATE)

    def test_sample_rate(self):
        self.assertEqual(self.ours["sample_rate"], RATE)

    def test_estimates_within_4_standard_errors(self):
        for marker in MARKERS:
            line = str(LINES[marker])
            true_size, true_count = self.reference["lineno"][line]
            size, count = self.ours["lineno"].get(line, (0, 0))
            bound = 4 * math.sqrt(RATE * true_size)
            with self.subTest(marker=marker, true=true_size, estimate=size, bound=bound):
                self.assertLess(abs(size - true_size), bound)
                # Fewer traces than allocations: the estimate is scaled up from a sample.
                self.assertLess(count, true_count)
                self.assertGreater(count, 0)

    def test_estimated_count_scales_up(self):
        """All blocks at the bytes line have one size s: sum of weights / s estimates the count."""
        line = str(LINES["# LINE: bytes"])
        true_size, true_count = self.reference["lineno"][line]
        block = true_size / true_count
        size, _ = self.ours["lineno"][line]
        bound = 4 * math.sqrt(RATE * true_size) / block
        self.assertLess(abs(size / block - true_count), bound)

    def test_object_traceback_of_sampled_slots_instances(self):
        line = LINES["# LINE: slots"]
        found = self.ours["slots_found"]
        # Every sampled instance is found, at its line, and only those: as many as traces there.
        self.assertEqual(self.ours["slots_found_lines"], [line])
        self.assertEqual(found, self.ours["lineno"][str(line)][1])
        # Each instance is sampled with p = 1 - exp(-s/R): the number found is Binomial(n, p).
        p = 1 - math.exp(-self.ours["slots_size"] / RATE)
        mean = N_SAMPLED * p
        self.assertLess(abs(found - mean), 4 * math.sqrt(N_SAMPLED * p * (1 - p)))


if __name__ == "__main__":
    unittest.main()
