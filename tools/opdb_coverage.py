"""How much of torch's OpInfo database funcgrad matches: ``python tools/opdb_coverage.py [--write]``.

Every op NAME in torch's ``op_db`` (636 names, ~700 OpInfos with variants) is run on the same
capped samples as ``tests/ops/test_opdb.py`` and classified:

- **pass**: forward values, dtypes and shapes, reverse-mode grads, forward-mode AD, the ``grad_fn``
  name and the method/in-place variants all match torch on the tested samples;
- **forward-only**: the forward matches, but grads, forward AD, node names or a variant don't;
- **failing**: a forward mismatch, a crash, a wrong exception class, or no usable sample;
- **missing**: funcgrad lacks the op (it doesn't resolve, or raises NotImplementedError / lacks an
  attribute it needs on every sample).

Flags: ``--ops a,b`` (only these names), ``-v`` (each failing check, one line), ``--write`` (write
``OPDB.md`` at the repository root), ``--jobs N`` (worker processes), ``--long`` (all samples and
more dtypes, as ``FUNCGRAD_LONG=1``).
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import multiprocessing as mp
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "ops"))
sys.path.insert(0, os.path.join(ROOT, "src"))

STATUSES = ("pass", "forward-only", "failing", "missing")


def _run_names(names, long, verbose):
    import opdb_util as U

    by_name = collections.defaultdict(list)
    for op in U.OP_DB:
        by_name[op.name].append(op)
    out = {}
    for name in names:
        results = []
        t = time.time()
        verdicts = {}
        for op in by_name[name]:
            try:
                res, errs = U.check_opinfo(op, long=long), U.check_errors(op, long=long)
            except Exception as e:  # noqa: BLE001 - keep walking
                res, errs = [U.SampleResult(name, op.variant_test_name, "-", -1, forward="fail",
                                            message="harness: " + U._short(e))], []
            results += res + errs
            if U.resolve(op) is not None:  # what test_opdb / test_opdb_errors would say
                verdicts[op.variant_test_name] = (U.verdict(res), U.verdict(errs, errors=True))
        fam = U.family(by_name[name][0])
        status, reason = classify(results)
        errs = [r for r in results if r.kind == "error"]
        out[name] = {"family": fam, "status": status, "reason": reason, "seconds": time.time() - t,
                     "errors": (len(errs), [r.message for r in errs if not r.ok]), "verdicts": verdicts,
                     "results": [dataclasses.asdict(r) for r in results],
                     "xfail": next((U.xfail_reason(op) for op in by_name[name] if U.xfail_reason(op)), None)}
        if verbose:
            _print_op(name, out[name])
    return out


def _worker(args):
    names, long, verbose = args
    return _run_names(names, long, verbose)


def classify(results):
    """(status, reason) of one op name from its SampleResults (all variants)."""
    if not results:
        return "missing", "no OpInfo"
    fwd = [r.forward for r in results if r.kind == "function"]
    if fwd and all(s == "missing" for s in fwd) and all(r.index < 0 for r in results if r.kind == "function"):
        return "missing", "not in funcgrad"
    fails = [r for r in results if r.kind == "function" and r.forward == "fail"]
    if fails:
        return "failing", fails[0].message
    usable = [r for r in results if r.kind == "function" and r.forward != "skip"]
    if not usable:
        msgs = sorted({r.message for r in results})
        return "failing", "no usable sample (" + "; ".join(msgs)[:120] + ")"
    passing = [r for r in usable if r.forward == "pass"]
    absent = [r for r in usable if r.forward in ("notimpl", "missing")]
    if absent and not passing:
        return "missing", absent[0].message
    if absent:
        return "failing", f"{len(absent)}/{len(usable)} samples: {absent[0].message}"
    bad = [r for r in results if not r.ok and r.kind != "error"]
    if bad:
        r = bad[0]
        what = []
        if r.kind != "function":
            what.append(f"{r.kind} variant")
        for k in ("grad", "fwad", "grad_fn"):
            if getattr(r, k) == "fail":
                what.append({"grad": "grads", "fwad": "forward AD", "grad_fn": "grad_fn"}[k])
        return "forward-only", f"{', '.join(what) or 'variant'}: {r.message}"
    return "pass", ""


def _print_op(name, rec):
    from opdb_util import SampleResult

    head = f"{rec['status']:12s} {name}"
    if rec["reason"]:
        head += f"  -- {rec['reason'][:160]}"
    print(head, flush=True)
    for d in rec["results"]:
        r = SampleResult(**d)
        if not r.ok and r.forward != "missing" or (r.forward == "missing" and r.index >= 0):
            print("    " + r.line(), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", help="comma-separated op names (default: all)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--write", action="store_true", help="write OPDB.md at the repository root")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--long", action="store_true", help="all samples, more dtypes")
    ap.add_argument("--json", help="write every sample's result to this JSON file")
    ap.add_argument("--baseline", action="store_true",
                    help="write tests/ops/xfail_baseline.py: an XFAIL/XFAIL_ERRORS entry for every OpInfo test that "
                         "fails now and has no entry in another xfail file (a snapshot to make the suite green; "
                         "strict, so an op that gets fixed must leave it)")
    args = ap.parse_args(argv)
    t0 = time.time()
    if args.long:
        os.environ["FUNCGRAD_LONG"] = "1"
    import opdb_util as U

    args.long = args.long or U.LONG
    all_names = list(dict.fromkeys(op.name for op in U.OP_DB))
    names = all_names if not args.ops else [n.strip() for n in args.ops.split(",") if n.strip()]
    unknown = [n for n in names if n not in all_names]
    if unknown:
        ap.error(f"not in op_db: {', '.join(unknown)}")
    if args.jobs > 1:
        chunks = [names[i::args.jobs] for i in range(args.jobs)]
        ctx = mp.get_context("spawn")
        with ctx.Pool(args.jobs) as pool:
            parts = pool.map(_worker, [(c, args.long, args.verbose) for c in chunks])
        recs = {}
        for p in parts:
            recs.update(p)
        recs = {n: recs[n] for n in names}
    else:
        recs = _run_names(names, args.long, args.verbose)
    elapsed = time.time() - t0
    if args.json:
        import json

        with open(args.json, "w") as f:
            json.dump(recs, f, indent=1)
    if args.baseline:
        write_baseline(recs)
    text = report(recs, elapsed, args.long)
    if args.write:
        with open(os.path.join(ROOT, "OPDB.md"), "w") as f:
            f.write(text)
        print(f"wrote {os.path.join(ROOT, 'OPDB.md')}")
    print(text if not args.write else text.split("## Not passing")[0])
    return 0


def write_baseline(recs):
    """tests/ops/xfail_baseline.py from the failing verdicts, minus what other xfail files hold."""
    import opdb_util as U

    path = os.path.join(ROOT, "tests", "ops", "xfail_baseline.py")
    if os.path.exists(path):
        os.remove(path)
    own = U.load_xfail(), U.load_xfail("XFAIL_ERRORS")
    tables = ({}, {})
    for name, rec in recs.items():
        for variant, pair in rec.get("verdicts", {}).items():
            key = (name, variant)  # a bare "name" key would cover every variant
            for k in (0, 1):
                msg = pair[k]
                if msg and not (own[k].get(key) or own[k].get(name)):
                    first = msg.split("\n")[1] if "\n" in msg else msg
                    first = first.split("  [")[0].split(" ", 1)[-1]
                    tables[k][key] = " ".join(first.split())[:120]
    with open(path, "w") as f:
        f.write('"""Snapshot of the op_db tests failing when it was generated (`python tools/opdb_coverage.py '
                '--baseline`).\n\nNot a list of accepted differences: every entry is a bug or a missing feature. '
                'The xfails are strict,\nso an op that gets fixed fails its test until its line is deleted here. '
                'Accepted differences go\nin the family\'s own `xfail_<family>.py`, with a reason.\n"""\n\n')
        for var, table in (("XFAIL", tables[0]), ("XFAIL_ERRORS", tables[1])):
            f.write(f"{var} = {{\n")
            for key in sorted(table):
                f.write(f"    {key!r}: {table[key]!r},\n")
            f.write("}\n\n")
    print(f"wrote {path}: {len(tables[0])} XFAIL, {len(tables[1])} XFAIL_ERRORS")


def _sample_stats(recs):
    c = collections.Counter()
    for rec in recs.values():
        for d in rec["results"]:
            if d["index"] < 0 or d["forward"] == "skip" or d["kind"] == "error":
                continue
            c["samples"] += 1
            c["fwd_pass"] += d["forward"] == "pass"
            for k in ("grad", "fwad", "grad_fn"):
                if d[k] != "n/a":
                    c[k] += 1
                    c[k + "_pass"] += d[k] == "pass"
    return c


def _pct(a, b):
    return f"{100.0 * a / b:.1f}%" if b else "-"


def report(recs, elapsed, long=False):
    import torch

    import opdb_util as U

    counts = collections.Counter(r["status"] for r in recs.values())
    fams = collections.defaultdict(collections.Counter)
    for r in recs.values():
        fams[r["family"]][r["status"]] += 1
    s = _sample_stats(recs)
    total = len(recs)
    lines = [
        "# OpInfo coverage",
        "",
        f"torch {torch.__version__}'s OpInfo database (`op_db`) run through funcgrad by "
        f"`python tools/opdb_coverage.py --write` ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{elapsed:.0f} s). Samples per op: "
        + ("all, dtypes " + ", ".join(str(d).split(".")[-1] for d in U.LONG_DTYPES) if long else
           "the first 3 float32 samples (with grads) and 2 int64 samples, as `tests/ops/test_opdb.py`")
        + ". Statuses: **pass** = forward, grads, forward AD, `grad_fn` names and method/in-place "
        "variants match torch; **forward-only** = the forward matches, something else doesn't; **failing** = "
        "a forward mismatch, crash or wrong exception; **missing** = not in funcgrad (or NotImplementedError).",
        "",
        "| status | ops | share |",
        "|---|---:|---:|",
    ]
    for st in STATUSES:
        lines.append(f"| {st} | {counts[st]} | {_pct(counts[st], total)} |")
    lines.append(f"| **total** | **{total}** | |")
    lines += ["", "| family | ops | pass | forward-only | failing | missing |", "|---|---:|---:|---:|---:|---:|"]
    for fam in U.FAMILIES:
        c = fams.get(fam)
        if not c:
            continue
        lines.append(f"| {fam} | {sum(c.values())} | " + " | ".join(str(c[st]) for st in STATUSES) + " |")
    lines += [
        "",
        f"Samples run (implemented ops): {s['samples']}; forward matches {_pct(s['fwd_pass'], s['samples'])}; "
        f"grads match {_pct(s['grad_pass'], s['grad'])} of {s['grad']}; forward AD matches "
        f"{_pct(s['fwad_pass'], s['fwad'])} of {s['fwad']}; **grad_fn names match {_pct(s['grad_fn_pass'], s['grad_fn'])}** "
        f"of {s['grad_fn']}.",
        "",
    ]
    with_errs = {n: r for n, r in recs.items() if r["errors"][0]}
    err_bad = {n: r for n, r in with_errs.items() if r["errors"][1]}
    lines += [
        f"torch's `error_inputs` (without `out=`, {U.ERROR_CAP} per OpInfo): {len(with_errs) - len(err_bad)} of "
        f"{len(with_errs)} implemented ops with error inputs raise torch's exception class (or NotImplementedError) "
        "on all of them (`test_opdb_errors`; not part of the status above).",
        "",
        "## Not passing",
        "",
    ]
    for st in ("failing", "forward-only"):
        rows = [(n, r) for n, r in recs.items() if r["status"] == st]
        if not rows:
            continue
        lines += [f"### {st} ({len(rows)})", ""]
        for fam in U.FAMILIES:
            for n, r in rows:
                if r["family"] == fam:
                    reason = " ".join(r["reason"].split())
                    reason = reason if len(reason) <= 150 else reason[:150] + "..."
                    x = f" *(xfail: {r['xfail']})*" if r["xfail"] else ""
                    lines.append(f"- `{n}` ({fam}): {reason.replace('|', '/')}{x}")
        lines.append("")
    if err_bad:
        lines += [f"### error inputs differing ({len(err_bad)})", ""]
        for n, r in err_bad.items():
            msg = " ".join(r["errors"][1][0].split())
            lines.append(f"- `{n}`: {(msg if len(msg) <= 150 else msg[:150] + '...').replace('|', '/')}")
        lines.append("")
    rows = [(n, r) for n, r in recs.items() if r["status"] == "missing"]
    if rows:
        lines += [f"### missing ({len(rows)})", ""]
        for fam in U.FAMILIES:
            part = [n for n, r in rows if r["family"] == fam]
            if part:
                lines.append(f"- {fam} ({len(part)}): " + ", ".join(f"`{n}`" for n in part))
        notimpl = [(n, r) for n, r in rows if r["reason"] != "not in funcgrad"]
        if notimpl:
            lines += ["", "Resolving but missing on every sample:", ""]
            for n, r in notimpl:
                lines.append(f"- `{n}`: {' '.join(r['reason'].split())[:150]}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
