"""``keras-inspector app``: become the Streamlit server of the app shipped in the package.

Only this command's flags decide what the app preloads and whether it trusts files.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from inspector.cli import common
from inspector.errors import InputDataError, InspectorError

__all__ = ["run_app"]


def run_app(args: argparse.Namespace) -> None:
    from inspector.app.settings import (
        PRELOAD_ENVIRONMENT_VARIABLE,
        TRUST_ENVIRONMENT_VARIABLE,
        upload_limit_mb,
    )

    env = dict(os.environ)
    # only this command's flags decide: an inherited variable must not preload a file or allow trust
    env.pop(PRELOAD_ENVIRONMENT_VARIABLE, None)
    env.pop(TRUST_ENVIRONMENT_VARIABLE, None)
    if args.model:
        model = Path(args.model).expanduser().resolve()
        if not model.is_file():
            raise InputDataError("No model file at this path.", received=str(args.model),
                                 fix="Check the path, or start the app without a model and upload one.")
        env[PRELOAD_ENVIRONMENT_VARIABLE] = str(model)
    script = Path(__file__).resolve().parents[1] / "app" / "main.py"  # the app ships in the package
    if args.trust:
        env[TRUST_ENVIRONMENT_VARIABLE] = "1"
    headless = args.no_browser or not sys.stdin.isatty()
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(args.port),
               "--server.headless", "true" if headless else "false", "--browser.gatherUsageStats", "false",
               # .streamlit/config.toml is read from the working directory only: pass the app's settings here
               "--server.maxUploadSize", str(upload_limit_mb()), "--server.runOnSave", "false", "--server.fileWatcherType", "none",
               "--client.toolbarMode", "viewer", "--client.showErrorDetails", "none"]
    common.note(args, f"starting the app on http://localhost:{args.port} (Ctrl-C to stop)")
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        # become the server: signals (Ctrl-C, a supervisor's SIGTERM) reach Streamlit directly, no orphan
        os.execve(sys.executable, command, env)
    import subprocess

    completed = subprocess.run(command, env=env, check=False)  # pragma: no cover - Windows
    if completed.returncode:  # pragma: no cover
        raise InspectorError("The Streamlit app stopped with an error.", received=f"exit code {completed.returncode}",
                             fix="Read the messages above; run `python -m streamlit run` on inspector/app/main.py to debug.")
