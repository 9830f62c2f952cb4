"""Memory limits on the batch job's steps, for docs/tutorials.md:
pytest -p mprofile.pytest_plugin examples/tutorial/test_batch.py"""
import pytest

import batch


@pytest.mark.limit_memory("10 MB")
def test_totals_stay_small():
    text = "\n".join("u%d,%d" % (i % 100, i) for i in range(20_000))
    assert len(batch.totals(text)) == 100


@pytest.mark.limit_memory("10 MB")
def test_csv_of_many_rows():
    rows = batch.make_rows(100_000)
    assert batch.to_csv(rows).count("\n") == 100_000


@pytest.mark.limit_leaks("1 MB")
def test_totals_leave_nothing_behind():
    batch.totals("u1,2\nu2,3\n" * 10_000)
