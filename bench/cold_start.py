"""Benchmark for issue 26: the static commands from a cold process, this tree beside an older one, in one run.

Each measurement is a fresh Python process, as a user running ``keras-inspector`` in a shell, a CI job or
a pre-commit hook gets: ``keras-inspector summary FILE``, ``keras-inspector graph FILE -o x.svg`` and
``python -c "import inspector; inspector.static_graph(FILE)"``.  The same command runs with this tree's
code and with the code of ``--baseline`` (a ``git worktree`` of an older commit), alternately, so both
see the same load on a shared machine; the table shows the median and the fastest of ``--repeat`` runs
and whether the process imported TensorFlow.

Run:  git worktree add --detach /tmp/baseline <commit>;  nice -n 10 python bench/cold_start.py --baseline /tmp/baseline
Prints the table and writes it under "## Cold start: the static commands" in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, baseline_commit, write_section

HEADING = "## Cold start: the static commands"
FILES = ("sample_models/nested_gan/model.keras", "sample_models/otto_mlp/model.h5",
         "sample_models/lambda_merge/model.keras")
# printed by the child after the command: whether TensorFlow was imported
_PROBE = "import sys; print('TF' if 'tensorflow' in sys.modules else 'no TF', file=sys.stderr)"


def commands(path: Path, out: Path) -> dict[str, list[str]]:
    cli = f"import sys\nfrom inspector.cli import main\ntry:\n    code = main()\nfinally:\n    {_PROBE}\nsys.exit(code)"
    return {
        "summary": [sys.executable, "-c", cli, "summary", str(path)],
        "graph -o x.svg": [sys.executable, "-c", cli, "graph", str(path), "-o", str(out)],
        "static_graph": [sys.executable, "-c", f"import inspector; inspector.static_graph({str(path)!r}); {_PROBE}"],
    }


def timed(command: list[str], tree: Path) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"{command[3:] or command} failed in {tree}:\n{result.stderr[-2000:]}")
    return seconds, result.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="a git worktree of the older commit")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    baseline = args.baseline.resolve()
    commit = baseline_commit(baseline)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in FILES:
            path = ROOT / name
            for label in commands(path, Path(tmp) / "x.svg"):
                times: dict[str, list[float]] = {"old": [], "new": []}
                probes: dict[str, str] = {}
                for _ in range(args.repeat):
                    for key, tree in (("old", baseline), ("new", ROOT)):
                        seconds, probes[key] = timed(commands(path, Path(tmp) / f"{key}.svg")[label], tree)
                        times[key].append(seconds)
                old, new = statistics.median(times["old"]), statistics.median(times["new"])
                rows.append((name.split("/", 1)[1], label, old, min(times["old"]), probes["old"], new,
                             min(times["new"]), probes["new"], new / old))
                print(*rows[-1][:2], f"{old:.2f} s -> {new:.2f} s ({new / old:.2f}x)", flush=True)
    lines = [f"Fresh processes, median (fastest) of {args.repeat}, alternating; \"before\" is commit `{commit}`. "
             f"{os.cpu_count()} CPUs shared with other work; `nice -n 10`.", "",
             "| file | command | before | TF | now | TF | now / before |", "|---|---|---:|---|---:|---|---:|"]
    lines += [f"| {f} | `{c}` | {o:.2f} s ({om:.2f}) | {op} | {n:.2f} s ({nm:.2f}) | {np_} | {r:.2f}× |"
              for f, c, o, om, op, n, nm, np_, r in rows]
    table = "\n".join(lines)
    print("\n" + table)
    if not args.no_write:
        write_section(HEADING, table)


if __name__ == "__main__":
    main()
