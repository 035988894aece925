"""Benchmark for issue 14: upload → graph drawn in headless Chromium, ours next to Netron, in one run.

For each file, a fresh app server starts and a browser page opens it: the app lands on the
Graph page of its default sample (so TensorFlow is imported and the viewer is loaded, as for
a user who has just opened it).  Once the server is idle (the sample's own background load and
TensorFlow's import, begun when the landing graph was painted, have ended: at least 3 s, a user's
time to pick a file, and about 4.5 s on 2 cores) the clock starts: the file is uploaded through the
sidebar, and it stops when the viewer has drawn the new graph and the browser has painted it
(the viewer's ``data-painted`` mark, two animation frames after the first view was set; on a large
graph the parts the first view does not reach go in after it, until ``data-complete``).
The app runs twice: with Graphviz's ``dot`` on the server's ``PATH`` (server-side SVG) and
with it hidden (layout in the browser by the vendored WebAssembly Graphviz).  Netron
(``pip install netron``) serves the same file; its clock runs from opening the page, through
its cookie notice (clicked at once), to its graph's nodes placed and shown: Netron inserts them
invisible (``opacity: 0``), measures them, lays the graph out, then places and shows them all in one
task (the time they were inserted is reported too).  Netron's page replaces ``window.eval``, so nothing
can wait for its paint: its figure leaves out the paint ours includes.  A fresh server per file keeps
one file's background Keras load out of the next one's clock.

Files: EfficientNetB0 and NASNetMobile from ``keras.applications`` (``weights=None``) and the
1,600-column entity-embedding model (bench/render.py, 36 MB), saved as .keras in a temporary
folder (or ``--models DIR`` holding ``<name>.keras``; made when missing).

Run (the machine is shared):  nice -n 10 python bench/app_open.py [--models DIR] [--repeat 3] [--no-write]
Runs alternate (ours with ``dot``, ours without, Netron); the table gives each file's median and every run's
ratio without ``dot``.
Prints the table and writes it under "## Opening a model in the app" in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, stop, wait_http, write_section

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HEADING = "## Opening a model in the app"
CHROMIUM = "/usr/bin/chromium"
MODELS = ("EfficientNetB0", "NASNetMobile", "entity_1600")
TIMEOUT_MS = 300_000
SETTLE_SECONDS = 3.0  # from the landing graph painted to the upload at least: the file dialog's time
IDLE_SECONDS = 1.0  # ... and until the server has used under 5 % of a CPU for this long


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, *, at_least: float, limit: float = 120.0) -> None:
    """Wait ``at_least`` seconds, then until the process has been idle for ``IDLE_SECONDS`` (Linux's /proc)."""
    time.sleep(at_least)
    if not Path(f"/proc/{pid}/stat").exists():
        return
    deadline = time.monotonic() + limit
    used = _cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(IDLE_SECONDS)
        now = _cpu_seconds(pid)
        if now - used < 0.05 * IDLE_SECONDS:
            return
        used = now


def model_files(folder: Path) -> list[tuple[str, Path]]:
    files = []
    for name in MODELS:
        path = folder / f"{name}.keras"
        if not path.exists():
            import keras

            if name == "entity_1600":
                from render import entity_model

                entity_model(vocabulary=(580, 400)).save(path)
            else:
                getattr(keras.applications, name)(weights=None).save(path)
        files.append((name, path))
    return files


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def path_without_dot(shadow: Path) -> str:
    """``PATH`` with each folder holding ``dot`` replaced by links to everything in it but Graphviz's programs."""
    folders = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not (Path(folder) / "dot").exists():
            folders.append(folder)
            continue
        copy = shadow / f"bin{len(folders)}"
        copy.mkdir()
        for entry in Path(folder).iterdir():
            if entry.name not in {"dot", "neato", "fdp", "sfdp", "circo", "twopi", "osage", "patchwork"}:
                (copy / entry.name).symlink_to(entry)
        folders.append(str(copy))
    return os.pathsep.join(folders)


def start_app(hide_dot: bool, scratch: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ}
    env.pop("KERAS_INSPECTOR_PRELOAD", None)
    if hide_dot:
        shadow = Path(tempfile.mkdtemp(dir=scratch))
        env["PATH"] = path_without_dot(shadow)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/_stcore/health", process)
    return process, url


# the first view, measured in the viewer's frame: smallest on-screen label size (px) of the layers in view
FIRST_VIEW = """() => {
  const canvas = document.querySelector('#ki-canvas').getBoundingClientRect();
  const inside = r => r.right > canvas.left && r.left < canvas.right && r.bottom > canvas.top && r.top < canvas.bottom;
  const scale = document.querySelector('#ki-canvas svg').getScreenCTM().a;
  const texts = [...document.querySelectorAll('[data-node-id] text')].filter(t => inside(t.getBoundingClientRect()));
  return Math.min(...texts.map(t => parseFloat(t.getAttribute('font-size')) * scale));
}"""


def ours(browser, server: subprocess.Popen, url: str, path: Path, name: str,
         default: str) -> tuple[float, float, str, float]:
    """Seconds from upload to the first view painted and to the whole drawing in the page; where it was laid
    out; smallest label px of the first view."""
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(url)
        page.locator("h1", has_text=f"Graph · {default}").wait_for()
        page.locator('iframe[title*="graph_viewer"]').wait_for()
        frame = next(f for f in page.frames if "graph_viewer" in f.url)
        frame.wait_for_selector("#ki-canvas[data-painted]", state="attached")
        before = frame.locator("#ki-canvas").get_attribute("data-painted")
        wait_idle(server.pid, at_least=SETTLE_SECONDS)  # a user picks a file; the sample's own load ends meanwhile
        start = time.perf_counter()
        page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(path))
        frame.wait_for_function("key => { const c = document.querySelector('#ki-canvas');"
                                " return c && c.dataset.painted && c.dataset.painted !== key; }", arg=before)
        drawn = time.perf_counter() - start
        smallest = frame.evaluate(FIRST_VIEW)
        frame.wait_for_function("key => { const c = document.querySelector('#ki-canvas');"
                                " return c && c.dataset.complete && c.dataset.complete !== key; }", arg=before)
        complete = time.perf_counter() - start
        page.locator("h1", has_text=f"Graph · {name}").wait_for()
        return drawn, complete, frame.locator("#ki-canvas").get_attribute("data-layout") or "?", smallest
    finally:
        page.close()


def netron(browser, path: Path) -> tuple[float, float]:
    """Seconds from opening Netron's page to its graph's nodes in the page (still invisible), and to them placed
    and shown.

    Netron inserts every node with ``opacity: 0``, measures them, lays the graph out (dagre), then places them
    (a ``transform``) and shows them, all nodes in one task: the graph is drawn when its nodes are placed.
    """
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", f"import netron; netron.serve({str(path)!r}, None, ('127.0.0.1', {port})); netron.wait()"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/", process)
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        page.set_default_timeout(TIMEOUT_MS)
        start = time.perf_counter()
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_text("Accept", exact=True).click()  # its cookie notice, answered at once
        page.wait_for_selector("#canvas g.graph-node", state="attached")
        attached = time.perf_counter() - start
        page.wait_for_selector("#canvas g.graph-node[transform]", state="attached")
        placed = time.perf_counter() - start
        page.close()
        return attached, placed
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, help="folder for <name>.keras (made when missing)")
    parser.add_argument("--repeat", type=int, default=1, help="runs, alternating (median and every ratio shown)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))  # this checkout's library, as the app server started from ROOT uses
    import inspector
    from inspector.limits import format_bytes

    scratch = Path(tempfile.mkdtemp(prefix="bench-app-open-"))
    try:
        files = model_files(args.models or scratch)
        names = {label: inspector.build_graph(path).name for label, path in files}
        default = inspector.build_graph(inspector.list_samples()[0].path).name
        results: dict[str, dict[str, list]] = {label: {"dot": [], "no dot": [], "netron": []} for label, _ in files}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            try:
                for run in range(1, args.repeat + 1):
                    for hide_dot in (False, True):
                        if not hide_dot and shutil.which("dot") is None:
                            continue
                        mode = "no dot" if hide_dot else "dot"
                        for label, path in files:  # a fresh server per file (see the module's docstring)
                            process, url = start_app(hide_dot, scratch)
                            try:
                                results[label][mode].append(ours(browser, process, url, path, names[label], default))
                            finally:
                                stop(process)
                            print(f"run {run} {label} {mode}: {results[label][mode][-1][0]:.2f} s", flush=True)
                    for label, path in files:
                        results[label]["netron"].append(netron(browser, path))
                        print(f"run {run} {label} Netron: {results[label]['netron'][-1][1]:.2f} s", flush=True)
            finally:
                browser.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    rows = ["| file | size | ours, `dot` on the server | ours, no `dot` (layout in the browser) | Netron: nodes placed "
            "(nodes inserted, invisible) | ours ÷ Netron (dot / no dot) | no `dot` ÷ Netron, each run |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for label, path in files:
        result = results[label]
        attached = statistics.median(a for a, _ in result["netron"])
        placed = statistics.median(p for _, p in result["netron"])
        cells, ratios = [], []
        for mode in ("dot", "no dot"):
            if result[mode]:
                drawn = statistics.median(r[0] for r in result[mode])
                complete = statistics.median(r[1] for r in result[mode])
                smallest = min(r[3] for r in result[mode])
                cells.append(f"**{drawn:.2f} s**, all in {complete:.2f} s (labels ≥ {smallest:.1f} px)")
                ratios.append(f"{drawn / placed:.2f}")
            else:
                cells.append("—")
        each = ", ".join(f"{ours_[0] / netron_[1]:.2f}"
                         for ours_, netron_ in zip(result["no dot"], result["netron"], strict=True))
        rows.append(f"| {label} | {format_bytes(path.stat().st_size)} | {cells[0]} | {cells[1]} | "
                    f"{placed:.2f} s ({attached:.2f} s) | {' / '.join(ratios)} | {each} |")
    runs = "one run" if args.repeat == 1 else f"median of {args.repeat} runs, alternating"
    text = (f"Upload → graph painted in headless Chromium (`bench/app_open.py`, {runs}, "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores): a fresh server per file, "
            "the page open on the Graph page, the upload once the server is idle after it was painted (at least 3 s; "
            "the landing sample's background load and TensorFlow's import end about 4.5 s after the paint), the "
            "clock from the upload to the "
            "new graph's first view painted (in bold; ratios use it) and to the whole drawing in the page (\"all "
            "in\": a large graph's parts outside the first view go in after its paint). Netron 9 serves "
            "the same file (`netron.serve`); its clock runs from opening the page to its graph's nodes placed and shown "
            "(Netron inserts them invisible, measures them, lays the graph out, then places and shows them all at once; "
            "the time they were inserted is in brackets; its paint is not included: the page allows no script to wait "
            "for it). \"labels ≥\" "
            "is the smallest label text in our first view, on screen.\n\n" + "\n".join(rows))
    print(text)
    if not args.no_write:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
