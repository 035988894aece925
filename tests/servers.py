"""Waiting for an app server a test started (the browser tests and the server-stop test)."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import pytest


def wait_for_health(url: str, process: subprocess.Popen, seconds: float, log: Path) -> None:
    """Wait until Streamlit's ``{url}/_stcore/health`` answers 200; fail the test with the server's log if the
    server exits or does not answer within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the app server did not start (exit {process.poll()}):\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
