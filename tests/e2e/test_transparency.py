"""The profiled program's stdout, stderr and exit status are byte-identical without it."""
import harness

PROGRAMS = {
    "prints.py": """
        import sys
        data = [str(i) * 10 for i in range(10000)]
        print(len(data), sum(map(len, data)))
        print("to stderr", file=sys.stderr)
    """,
    "raises.py": """
        x = [bytearray(1000) for _ in range(100)]
        raise ValueError("boom")
    """,
    "exits.py": """
        import sys
        print("partial", end="")
        sys.exit(3)
    """,
    "threads.py": """
        import threading
        out = []
        def f(n):
            out.append(sum(len(bytes(n)) for _ in range(1000)))
        ts = [threading.Thread(target=f, args=(i,)) for i in range(8)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        print(sorted(out))
    """,
    "stdin.py": """
        import sys
        print(sys.stdin.read().upper())
    """,
}


class Transparency(harness.ProfiledTestCase):
    def test_output_and_status_identical(self):
        for name, text in PROGRAMS.items():
            script = self.write(name, text)
            for rate in ("1", "4096", "131072"):
                plain = self.run_python(script, preload=False, input=b"some input\n")
                profiled = self.run_python(script, MPROFILE_RATE=rate, input=b"some input\n")
                with self.subTest(program=name, rate=rate):
                    self.assertEqual(profiled.stdout, plain.stdout)
                    self.assertEqual(profiled.stderr, plain.stderr)
                    self.assertEqual(profiled.returncode, plain.returncode)


if __name__ == "__main__":
    harness.main()
