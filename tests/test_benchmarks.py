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
    names = [name for name, _, _ in rows]
    assert len(rows) >= 8 and "| workload |" in text and "Peak RSS" in text and "## Memory" in text
    assert any("GPT" in n for n in names) and any("LSTM" in n for n in names)
    for name, _, r in rows:
        assert all(v is None or v > 0 for v in r.values())
        if "variable-length" in name:  # eager only: its shapes change every step (no compiled form)
            assert r["funcgrad eager"] and r["torch eager"]
            continue
        assert r["funcgrad eager"] and r["funcgrad compiled"] and r["jax.jit"]
