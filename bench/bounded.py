"""Bounded by construction (issue 25): the memory and time each hostile family takes, per entry point.

Each case is one file of a bounded family (``tests/hostile_corpus.py``: sizes and structures that cost memory
or time without storing anything) opened in a fresh child process through the library (``load_model``, then
the static view and every text output) and the CLI (``summary`` and ``graph -o g.svg``); the child's own peak
resident memory (``ru_maxrss`` from ``os.wait4``) and its wall time are printed.  With ``--keras``, beside
them: what a user would call instead, ``keras.saving.load_model(path, safe_mode=True)`` on the same file,
capped at 6 GiB of address space and 120 s so that it cannot take the machine.

Usage: ``python bench/bounded.py [--keras] [--seed N] [--write]`` (``--write``: the table into
docs/performance.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import write_section  # noqa: E402
from bounded_runner import run_case  # noqa: E402
from hostile_corpus import BOUNDED_FAMILIES, DRAWING_FAMILIES  # noqa: E402

KERAS_SECONDS = 120


def _cell(measured, step: str) -> str:
    outcome = measured.outcomes.get(step) or next(iter(measured.outcomes.values()), "")
    if outcome.startswith("ESCAPED exit -9"):
        outcome = "killed"
    elif outcome.startswith("ESCAPED"):
        outcome = outcome.split(":")[0].removeprefix("ESCAPED ")
    return f"{measured.peak_bytes / 2**20:,.0f} MiB, {measured.open_seconds:.1f} s, {outcome}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras", action="store_true", help="also time keras.saving.load_model on each file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="write the table into docs/performance.md")
    args = parser.parse_args()
    header = ("| family | library (`load_model`, static view, outputs) | CLI (`summary`, `graph -o g.svg`) "
              "| app (upload, load, Overview) |")
    rule = "|---|---|---|---|"
    if args.keras:
        header += f" `keras.saving.load_model` (capped: 6 GiB, {KERAS_SECONDS} s) |"
        rule += "---|"
    rows = [header, rule]
    with tempfile.TemporaryDirectory(prefix="bounded-bench-") as folder:
        for family in [*BOUNDED_FAMILIES, *DRAWING_FAMILIES]:
            library = run_case(family, args.seed, "library", Path(folder))
            cli = run_case(family, args.seed, "cli", Path(folder))
            app = run_case(family, args.seed, "app", Path(folder))
            row = (f"| {family} | {_cell(library, 'load_model')} | {_cell(cli, 'cli summary')} "
                   f"| {_cell(app, 'app upload')} |")
            if args.keras:
                row += f" {_cell(run_case(family, args.seed, 'keras', Path(folder), KERAS_SECONDS), 'keras load_model')} |"
            rows.append(row)
            print(row, flush=True)
    table = "\n".join(rows)
    print()
    print("Peak: the child process's resident memory (ru_maxrss), TensorFlow's own ~0.85 GiB included; time: the "
          "open's, after the process has started and imported TensorFlow (10-15 s on this shared machine).")
    if args.write:
        write_section("## Bounded by construction (bench/bounded.py)", "Each hostile family of issue 25 in a fresh "
                      "child process: peak resident memory, time (after Python and TensorFlow have started) and "
                      "what `load_model` (the CLI's `summary`, the app's upload: `ok` is shown, never raised) answered.\n\n" + table)


if __name__ == "__main__":
    main()
