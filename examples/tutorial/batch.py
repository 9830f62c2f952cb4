"""A batch job whose memory peaks in its middle step, for docs/tutorials.md."""
import csv
import io
import random


def make_rows(n):
    rng = random.Random(7)
    return [{"user": "u%d" % rng.randrange(5000), "amount": rng.randrange(1, 500)}
            for _ in range(n)]


def to_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, ["user", "amount"])
    writer.writerows(rows)
    return out.getvalue()


def totals(text):
    sums = {}
    for line in text.splitlines():
        user, amount = line.split(",")
        sums[user] = sums.get(user, 0) + int(amount)
    return sums


def main():
    rows = make_rows(300_000)
    text = to_csv(rows)    # the rows and their CSV text at once: the peak
    del rows
    result = totals(text)
    print("users:", len(result))


if __name__ == "__main__":
    main()
