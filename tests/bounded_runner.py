"""One bounded-family case (issue 25) in a child process: its peak memory and time, measured from outside.

``run_case(family, seed, entry)`` starts ``python tests/bounded_runner.py FAMILY SEED ENTRY FOLDER``; the child
writes the family's file (``hostile_corpus.bounded_file``), opens it through ``entry`` and reports its own peak
resident memory (``VmHWM``): ``library``
(``load_model``, then ``build_graph``, the summary, JSON, DOT, HTML and an SVG drawing), ``cli`` (``summary``
and ``graph -o g.svg``), ``app`` (the Streamlit app, run by ``AppTest``: the file uploaded, its background load
waited for, the Overview page drawn) or ``keras`` (``keras.saving.load_model``, what a user would call instead, its address
space capped), and prints what each step answered.  The parent takes the child's peak (``os.wait4``'s
``ru_maxrss`` only when the child died before saying it: Linux keeps in it the test process's size at the fork)
and its wall time.  Used by
tests/test_bounded.py (which asserts the promises) and bench/bounded.py (which prints them).
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ENTRIES = ("library", "cli", "app")
KERAS_ADDRESS_SPACE = 6 * 2**30  # the "keras" entry (bench/bounded.py): TensorFlow alone reserves 2.5 GiB of it


@dataclass(frozen=True)
class Measured:
    family: str
    entry: str
    peak_bytes: int  # the child's peak resident memory (ru_maxrss)
    seconds: float
    outcomes: dict  # step -> "ok" or the InspectorError subclass it raised; "ESCAPED ..." for anything else

    @property
    def open_seconds(self) -> float:
        """The steps' time, without the process's start (Python, TensorFlow); the wall time when it never ended."""
        return float(self.outcomes.get("seconds", self.seconds)) if "end" in self.outcomes else self.seconds


def run_case(family: str, seed: int, entry: str, folder: Path, timeout: float = 300) -> Measured:
    """Run one case in a fresh Python process; its memory and time are the child's alone."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    name = f"{family.replace(' ', '_')}_{seed}_{entry}"
    out, err = folder / f"{name}.out", folder / f"{name}.err"
    start = time.perf_counter()
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen([sys.executable, __file__, family, str(seed), entry, str(folder)], stdout=stdout,
                                 stderr=stderr, env=env)
    timer = threading.Timer(timeout, child.kill)
    timer.start()
    _, status, usage = os.wait4(child.pid, 0)  # the child's own peak memory, which Popen.wait would not give
    timer.cancel()
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in out.read_text().splitlines() if line.startswith("{")]
    outcomes = json.loads(lines[-1]) if lines else {
        "child": f"ESCAPED exit {child.returncode}: {err.read_text()[-800:]}"}
    # the child's own peak (VmHWM); Linux's ru_maxrss would also count this process's image it was forked from
    peak = int(outcomes.pop("peak", 0)) or usage.ru_maxrss * 1024
    return Measured(family, entry, peak, seconds, outcomes)


def _clean_metadata() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": "2026-12-07@00:00:00"}))
    return out.getvalue()


def _child(family: str, seed: int, entry: str, folder: Path) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from hostile_corpus import bounded_file

    import inspector

    path = folder / f"{family.replace(' ', '_')}_{seed}_{entry}.keras"
    path.write_bytes(bounded_file(family, _clean_metadata(), random.Random(seed)))
    outcomes: dict[str, str] = {}
    import keras  # noqa: F401 - started before the steps are timed: once per process, 5-15 s on a shared machine

    started = time.perf_counter()

    def step(name: str, call) -> object:
        outcomes["seconds"] = f"{time.perf_counter() - started:.2f}"  # the steps' time so far, start excluded
        try:
            result = call()
        except inspector.InspectorError as e:
            outcomes[name] = type(e).__name__
            return None
        except BaseException as e:  # noqa: BLE001 - the point is to report anything else
            outcomes[name] = f"ESCAPED {type(e).__name__}: {str(e)[:300]}"
            return None
        outcomes[name] = "ok"
        return result

    if entry == "keras":  # what a user would do instead: Keras's own safe load, capped so that it cannot take the machine
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (KERAS_ADDRESS_SPACE, KERAS_ADDRESS_SPACE))
        step("keras load_model", lambda: keras.saving.load_model(path, compile=False, safe_mode=True))
    elif entry == "app":
        said = step("app upload", lambda: _app_upload(path))
        outcomes["app said"] = str(said)[:2000]
    elif entry == "cli":
        from inspector.cli import main

        step("cli summary", lambda: _exit_code(main(["summary", str(path), "--format", "csv"])))
        step("cli graph", lambda: _exit_code(main(["graph", str(path), "-o", str(folder / f"{path.stem}.svg")])))
    else:
        step("load_model", lambda: inspector.load_model(path))
        graph = step("build_graph", lambda: inspector.build_graph(path))
        if graph is not None:
            step("summary csv", lambda: inspector.summary_frame(graph).to_csv().encode())
            step("json", lambda: json.dumps(inspector.to_json(graph), ensure_ascii=False).encode())
            step("html", lambda: inspector.to_html(graph).encode())
            step("svg", lambda: inspector.render(graph, "svg"))
    step("end", lambda: None)
    return outcomes


def _app_upload(path: Path) -> str:
    """Upload ``path`` in the app and draw its Overview once the background load has ended: what the app's errors
    and warnings say; anything the app raises (instead of showing) escapes."""
    from streamlit.testing.v1 import AppTest

    import inspector
    from inspector.app.state import LOADED

    app = Path(inspector.__file__).parent / "app" / "main.py"  # the installed package's app, as `keras-inspector app`
    at = AppTest.from_file(str(app), default_timeout=120).run()
    at.sidebar.get("file_uploader")[0].set_value((path.name, path.read_bytes(), "application/octet-stream"))
    at.run()
    opening = at.session_state[LOADED] if LOADED in at.session_state else None
    if opening is not None:
        opening.result(timeout=120)
    at.switch_page("views/overview.py").run()
    if at.exception:
        raise RuntimeError(f"the app raised: {[str(e.value)[:200] for e in at.exception]}")
    return " | ".join(str(e.value) for e in [*at.error, *at.warning, *at.sidebar.error, *at.sidebar.warning])


def _exit_code(code: int) -> None:
    if code not in (0, 3):  # 3: a typed refusal, printed
        raise RuntimeError(f"exit code {code}")


if __name__ == "__main__":
    family, seed, entry, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    outcomes = _child(family, seed, entry, folder)
    from inspector.processes import resident_bytes

    print(json.dumps({**outcomes, "peak": str(resident_bytes(os.getpid(), peak=True) or 0)}), flush=True)
