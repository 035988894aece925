"""Benchmark for issue 26: a cold app server to the landing graph painted in headless Chromium, beside Netron's.

The browser is started first (its own start is not counted).  The clock starts when the server's process is
started (``python -m streamlit run app/main.py``, as ``keras-inspector app`` does) and stops when the Graph
page's viewer marks its first view painted (``data-painted``), the landing sample's graph; the page is
requested as soon as the server answers its health check.  This tree runs beside ``--baseline`` (a
``git worktree`` of an older commit), alternately.  Netron's cold start is timed the same way: from its
server's process started on the same sample to its graph's nodes placed and shown (bench/app_open.py says
why that is Netron's drawn mark).

Run:  nice -n 10 python bench/app_cold_start.py --baseline /tmp/baseline [--repeat 3]
Prints the table and writes it under "## Cold start: the app" in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, baseline_commit, stop, wait_http, write_section

HEADING = "## Cold start: the app"
CHROMIUM = "/usr/bin/chromium"
SAMPLE = ROOT / "sample_models" / "entity_embeddings" / "model.keras"  # the app's landing sample (the first)
TIMEOUT_MS = 300_000


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ours(browser, tree: Path) -> tuple[float, float]:
    """Seconds from the server's start to its health check answering, and to the landing graph painted."""
    env = {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("KERAS_INSPECTOR_PRELOAD", None)
    port = _free_port()
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/_stcore/health", process, seconds=300, poll=0.05)
        serving = time.perf_counter() - start
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        page.set_default_timeout(TIMEOUT_MS)
        try:
            page.goto(url)
            page.locator('iframe[title*="graph_viewer"]').wait_for()
            frame = next(f for f in page.frames if "graph_viewer" in f.url)
            frame.wait_for_selector("#ki-canvas[data-painted]", state="attached")
            return serving, time.perf_counter() - start
        finally:
            page.close()
    finally:
        stop(process)


def netron(browser, path: Path) -> float:
    """Seconds from Netron's server started on ``path`` to its graph's nodes placed and shown."""
    port = _free_port()
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", f"import netron; netron.serve({str(path)!r}, None, ('127.0.0.1', {port})); netron.wait()"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/", process, seconds=300, poll=0.05)
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        page.set_default_timeout(TIMEOUT_MS)
        try:
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_text("Accept", exact=True).click()  # its cookie notice, answered at once
            page.wait_for_selector("#canvas g.graph-node[transform]", state="attached")
            return time.perf_counter() - start
        finally:
            page.close()
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="a git worktree of the older commit")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    baseline = args.baseline.resolve()
    commit = baseline_commit(baseline)
    runs: dict[str, list[tuple[float, float]]] = {"before": [], "now": []}
    netrons: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            for i in range(args.repeat):
                for key, tree in (("before", baseline), ("now", ROOT)):
                    runs[key].append(ours(browser, tree))
                    print(f"run {i + 1} {key}: serving {runs[key][-1][0]:.2f} s, painted {runs[key][-1][1]:.2f} s",
                          flush=True)
                netrons.append(netron(browser, SAMPLE))
                print(f"run {i + 1} Netron: {netrons[-1]:.2f} s", flush=True)
        finally:
            browser.close()
    lines = [f"From the server's process started to the landing graph ({SAMPLE.relative_to(ROOT)}) painted in headless "
             f"Chromium; runs alternate; \"before\" is commit `{commit}`. {os.cpu_count()} CPUs shared with other "
             "work; `nice -n 10`.", "",
             "| run | before: serving | before: painted | now: serving | now: painted | Netron: nodes placed |",
             "|---|---:|---:|---:|---:|---:|"]
    for i, ((bs, bp), (ns, np_), n) in enumerate(zip(runs["before"], runs["now"], netrons, strict=True)):
        lines.append(f"| {i + 1} | {bs:.1f} s | {bp:.1f} s | {ns:.1f} s | {np_:.1f} s | {n:.1f} s |")
    lines.append(f"| median | {statistics.median(r[0] for r in runs['before']):.1f} s | "
                 f"{statistics.median(r[1] for r in runs['before']):.1f} s | "
                 f"{statistics.median(r[0] for r in runs['now']):.1f} s | "
                 f"{statistics.median(r[1] for r in runs['now']):.1f} s | {statistics.median(netrons):.1f} s |")
    table = "\n".join(lines)
    print("\n" + table)
    if not args.no_write:
        write_section(HEADING, table)


if __name__ == "__main__":
    main()
