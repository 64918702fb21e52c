"""The benchmark suite runs (quick mode); its numbers are not asserted (no timed asserts)."""
import os
import sys

HERE = os.path.join(os.path.dirname(__file__), "..", "benchmarks")


def test_suite_quick_runs_and_writes_a_table(tmp_path):
    sys.path.insert(0, HERE)
    import suite

    out = tmp_path / "RESULTS.md"
    rows = suite.main(["--quick", "--out", str(out)])
    text = out.read_text()
    assert len(rows) == 6 and "| workload |" in text and "Peak RSS" in text
    for _, _, r in rows:
        assert all(v is None or v > 0 for v in r.values())
