"""The benchmark suite runs (quick mode); its numbers are not asserted (no timed asserts).

The whole table is produced by ``suite.main`` (every row's workload built and run under every system,
the memory rows measured, the file written), with each row's function called at its smallest: one
warm-up and one timed repetition, smaller models, fewer steps. Timing quality is not the point here,
only that each row's code runs; ``FUNCGRAD_LONG=1`` runs the suite's own ``--quick`` sizes."""
import os
import sys

HERE = os.path.join(os.path.dirname(__file__), "..", "benchmarks")
LONG = bool(os.environ.get("FUNCGRAD_LONG"))


def _shrink(suite, monkeypatch):
    """Each row function of the suite called with one warm-up, one repetition and tiny sizes."""
    monkeypatch.setattr(suite, "GPT", dict(suite.GPT))
    monkeypatch.setattr(suite, "LSTM", dict(suite.LSTM))
    real = {n: getattr(suite, n) for n in ("chain", "mlp_step", "cnn_step", "gpt_step", "lstm_step", "hvp",
                                           "rss_over_steps", "kept_graph_bytes", "peak_rss")}

    def gpt_step(reps, warm, dev):
        suite.GPT.update(d=16, heads=2, seq=8, batch=2)
        return real["gpt_step"](1, 1, dev)

    def lstm_step(reps, warm, dev):
        suite.LSTM.update(emb=8, hidden=8, seq=4, batch=2)
        return real["lstm_step"](1, 1, dev)

    def mlp_step(sizes, n, opt_name, classification, reps, warm, dev):
        small = tuple(max(4, s // 32) for s in sizes[:-1]) + sizes[-1:]
        return real["mlp_step"](small, 8, opt_name, classification, 1, 1, dev)

    patched = {
        "chain": lambda shape, reps, warm, dev: real["chain"](shape and (8, 8), 1, 1, dev),
        "mlp_step": mlp_step,
        "cnn_step": lambda reps, warm, dev: real["cnn_step"](1, 1, dev),
        "gpt_step": gpt_step,
        "lstm_step": lstm_step,
        "hvp": lambda reps, warm, dev: real["hvp"](1, 1, dev),
        "rss_over_steps": lambda steps, dev, quick=False: real["rss_over_steps"](20, dev, quick),
        "kept_graph_bytes": lambda n, dev: real["kept_graph_bytes"](5, dev),
        "peak_rss": lambda w, steps, dev, quick=False: real["peak_rss"](w, min(steps, 3), dev, quick),
    }
    for name, fn in patched.items():
        monkeypatch.setattr(suite, name, fn)


def test_suite_quick_runs_and_writes_a_table(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(HERE)
    import suite

    if not LONG:
        _shrink(suite, monkeypatch)
    out = tmp_path / "RESULTS.md"
    rows = suite.main(["--quick", "--out", str(out), "--torch-threads", "1"])
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
