"""Benchmark for issue 14: upload → graph drawn in headless Chromium, ours next to Netron, in one run.

For each file, a fresh app server starts and a browser page opens it: the app lands on the
Graph page of its default sample (so TensorFlow is imported and the viewer is loaded, as for
a user who has just opened it).  Three seconds later (a user's time to pick a file, in which the
sample's own background load ends) the clock starts: the file is uploaded through the
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

Run (the machine is shared):  nice -n 10 python bench/app_open.py [--models DIR] [--no-write]
Prints the table and writes it under "## Opening a model in the app" in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
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
SETTLE_SECONDS = 3.0  # from the landing graph painted to the upload: the file dialog's time


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


def ours(browser, url: str, path: Path, name: str, default: str) -> tuple[float, float, str, float]:
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
        time.sleep(SETTLE_SECONDS)  # a user takes this long to pick a file; the sample's own load ends meanwhile
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
        results: dict[str, dict[str, object]] = {label: {} for label, _ in files}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            try:
                for hide_dot in (False, True):
                    if not hide_dot and shutil.which("dot") is None:
                        continue
                    for label, path in files:  # a fresh server per file (see the module's docstring)
                        process, url = start_app(hide_dot, scratch)
                        try:
                            results[label]["no dot" if hide_dot else "dot"] = ours(
                                browser, url, path, names[label], default)
                        finally:
                            stop(process)
                for label, path in files:
                    results[label]["netron"] = netron(browser, path)
            finally:
                browser.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    rows = ["| file | size | ours, `dot` on the server | ours, no `dot` (layout in the browser) | Netron: nodes placed "
            "(nodes inserted, invisible) | ours ÷ Netron (dot / no dot) |", "|---|---:|---:|---:|---:|---:|"]
    for label, path in files:
        result = results[label]
        attached, placed = result["netron"]
        cells, ratios = [], []
        for mode in ("dot", "no dot"):
            if mode in result:
                drawn, complete, layout, smallest = result[mode]
                cells.append(f"**{drawn:.2f} s**, all in {complete:.2f} s (labels ≥ {smallest:.1f} px)")
                ratios.append(f"{drawn / placed:.2f}")
            else:
                cells.append("—")
        rows.append(f"| {label} | {format_bytes(path.stat().st_size)} | {cells[0]} | {cells[1]} | "
                    f"{placed:.2f} s ({attached:.2f} s) | {' / '.join(ratios)} |")
    text = ("Upload → graph painted in headless Chromium (`bench/app_open.py`, one run, "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores): a fresh server per file, "
            "the page open on the Graph page, the upload 3 s after it was painted, the clock from the upload to the "
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
