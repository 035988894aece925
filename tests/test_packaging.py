"""The package as a user installs it: the wheel built from this checkout, read file by file.

The wheel is built once per module with ``pip wheel --no-deps`` (about 15 s: pip builds in an isolated
environment with a setuptools from the package index).  Every ``.py`` in it is parsed with ``ast`` and every
``import`` (lazy ones inside functions included) is checked against the ``Requires-Dist`` of its metadata.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import inspector

REPO = Path(__file__).resolve().parents[1]

# import name -> distribution, for modules whose distribution is named otherwise and may not be installed here
# (installed ones are looked up with importlib.metadata.packages_distributions)
KNOWN_DISTRIBUTIONS = {"sklearn": "scikit-learn", "PIL": "pillow", "yaml": "pyyaml", "umap": "umap-learn",
                       "cv2": "opencv-python", "skimage": "scikit-image", "google": "protobuf"}
# declared runtime dependencies the package uses without importing them (none: the app ships in the package)
USED_WITHOUT_IMPORT: dict[str, str] = {}


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions_of(module: str, installed: dict[str, list[str]]) -> set[str]:
    """The distributions that may provide a top-level import name."""
    if module in installed:
        return {normalize(d) for d in installed[module]}
    return {normalize(KNOWN_DISTRIBUTIONS.get(module, module))}


def imports_of(source: str, filename: str) -> set[str]:
    """Top-level names of the absolute imports in a Python source file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel built from this checkout, and pip's verbose build log."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(out), str(REPO)],
                           capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (path,) = out.glob("keras_inspector-*.whl")
    return path, build.stdout + build.stderr


def read_metadata(path: Path) -> tuple[dict[str, list[str]], list[str]]:
    with zipfile.ZipFile(path) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(z.read(name).decode())
        return {k: message.get_all(k) or [] for k in set(message.keys())}, z.namelist()


def runtime_requirements(metadata: dict[str, list[str]]) -> set[str]:
    """Distribution names of the Requires-Dist lines that hold without an extra."""
    return {normalize(re.match(r"[A-Za-z0-9._-]+", line).group(0))
            for line in metadata.get("Requires-Dist", []) if "extra ==" not in line}


def optional_requirements(metadata: dict[str, list[str]], extra: str) -> set[str]:
    """Distribution names of the Requires-Dist lines of one extra."""
    return {normalize(re.match(r"[A-Za-z0-9._-]+", line).group(0))
            for line in metadata.get("Requires-Dist", []) if re.search(rf"extra == ['\"]{re.escape(extra)}['\"]", line)}


def test_every_import_in_the_wheel_is_a_declared_dependency(wheel: tuple[Path, str]) -> None:
    path, _ = wheel
    metadata, names = read_metadata(path)
    declared = runtime_requirements(metadata)
    first_party = {n.split("/")[0] for n in names if "/" in n and not n.split("/")[0].endswith(".dist-info")}
    assert "inspector" in first_party
    installed = importlib.metadata.packages_distributions()
    imported: dict[str, set[str]] = {}  # module -> files importing it
    with zipfile.ZipFile(path) as z:
        sources = [n for n in names if n.endswith(".py")]
        assert len(sources) > 20, sources
        for name in sources:
            for module in imports_of(z.read(name).decode(), name):
                if module not in sys.stdlib_module_names and module not in first_party:
                    imported.setdefault(module, set()).add(name)
    # imported only when method="umap-learn", engine="ray" or the JAX backend asks
    optional = (optional_requirements(metadata, "umap-learn") | optional_requirements(metadata, "ray")
                | optional_requirements(metadata, "jax"))
    undeclared = {module: sorted(files) for module, files in imported.items()
                  if not distributions_of(module, installed) & (declared | optional)}
    assert not undeclared, f"imported but not in the wheel's dependencies: {undeclared}"
    used = set().union(*(distributions_of(m, installed) for m in imported))
    unused = declared - used - {normalize(d) for d in USED_WITHOUT_IMPORT}
    assert not unused, f"declared but never imported by the wheel: {sorted(unused)}"
    # the ones issue 16 found undeclared are found by the scan (so it reads lazy imports too)
    assert {"numba", "scipy", "threadpoolctl", "tensorflow"} <= set(imported)
    assert set(imported["jax"]) == {"inspector/analysis/gradients.py"}
    assert optional == {"umap-learn", "ray", "jax", "jaxlib"} and set(imported["umap"]) == {"inspector/analysis/umap_learn.py"}
    assert set(imported["ray"]) == {"inspector/analysis/distributed.py"}


def test_wheel_holds_the_app_the_samples_and_the_viewer(wheel: tuple[Path, str]) -> None:
    _, names = read_metadata(wheel[0])
    names = set(names)
    assert {"inspector/app/main.py", "inspector/app/common.py", "inspector/app/views/graph.py",
            "inspector/app/views/overview.py", "inspector/rendering/viewer/static/viewer.js",
            "inspector/rendering/viewer/static/vendor/graphviz.js", "inspector/py.typed"} <= names
    samples = [n for n in names if n.startswith("inspector/sample_models/") and n.endswith("/model.keras")]
    assert len(samples) >= 6, samples
    assert any(n.endswith("/metadata.json") for n in names if n.startswith("inspector/sample_models/"))


def test_the_listed_packages_are_the_folders_of_inspector() -> None:
    """pyproject lists the packages (to map sample_models/ into the wheel): a new sub-package must be listed."""
    import tomllib

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "inspector").rglob("__init__.py")}
    assert set(setuptools["packages"]) == folders | {"inspector.sample_models"}
    assert setuptools["package-dir"] == {"inspector.sample_models": "sample_models"}
    assert sorted(p.name for p in REPO.iterdir() if p.name in {"app", "inspector", "sample_models", "tests"}) == [
        "app", "inspector", "sample_models", "tests"]
    assert (REPO / "app" / "main.py").is_file() and (REPO / "sample_models" / "build.py").is_file()


def test_samples_are_found_from_a_clone_an_editable_install_and_the_wheel(wheel: tuple[Path, str],
                                                                          tmp_path: Path) -> None:
    """``get_sample`` from an empty folder, in a fresh venv whose only ``inspector`` is, in turn, the clone on
    ``PYTHONPATH``, an editable install and the wheel (the dependencies come from this environment)."""
    import sysconfig
    import venv

    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    empty = tmp_path / "empty"
    empty.mkdir()
    dependencies = sysconfig.get_paths()["purelib"]  # .pth files on PYTHONPATH are not run: no editable finder
    base_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    base_env["TF_CPP_MIN_LOG_LEVEL"] = "3"

    def where(*path: str) -> list[str]:
        env = {**base_env, "PYTHONPATH": os.pathsep.join([*path, dependencies])}
        run = subprocess.run([python, "-c", "import inspector; s = inspector.get_sample('otto_mlp');"
                                            "print(inspector.__file__); print(s.path); print(s.load_inputs()['features'].shape)"],
                             cwd=empty, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert run.returncode == 0, run.stderr[-3000:]
        return run.stdout.split()

    def install(*args: str) -> None:
        run = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", *args], capture_output=True,
                             text=True, timeout=600, env=base_env, stdin=subprocess.DEVNULL)
        assert run.returncode == 0, run.stderr[-3000:]

    clone = where(str(REPO))
    assert clone[0] == str(REPO / "inspector" / "__init__.py")
    assert clone[1] == str(REPO / "sample_models" / "otto_mlp" / "model.keras") and clone[2] == "(200,"
    install("-e", str(REPO))
    editable = where()
    assert editable[:2] == clone[:2]
    install(str(wheel[0]))
    installed = where()
    package = Path(installed[0]).parent
    assert package.is_relative_to(env_dir) and installed[1] == str(package / "sample_models" / "otto_mlp" / "model.keras")


def test_import_scan_maps_modules_to_distributions() -> None:
    source = "import sklearn.metrics\nfrom PIL import Image\nfrom . import sibling\ndef f():\n    import yaml\n"
    assert imports_of(source, "x.py") == {"sklearn", "PIL", "yaml"}
    assert distributions_of("sklearn", {}) == {"scikit-learn"}
    assert distributions_of("PIL", {}) == {"pillow"}
    assert distributions_of("numba", {"numba": ["numba"]}) == {"numba"}
    assert normalize("Scikit_Learn") == "scikit-learn"


def test_wheel_states_its_licence_without_deprecation(wheel: tuple[Path, str]) -> None:
    path, log = wheel
    metadata, names = read_metadata(path)
    assert metadata["License-Expression"] == ["Apache-2.0"]
    assert metadata["License-File"] == ["LICENSE"]
    (licence,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    with zipfile.ZipFile(path) as z:
        text = z.read(licence).decode()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert text == (REPO / "LICENSE").read_text()
    assert "Deprecat" not in log, [line for line in log.splitlines() if "Deprecat" in line]
    assert not {"umap-learn", "scikit-learn", "graphviz"} & runtime_requirements(metadata)



def make_dry_run(target: str, tmp_path: Path) -> list[str]:
    """The commands `make -n TARGET` would run, with a stand-in interpreter name and a venv folder in tmp."""
    if subprocess.run(["make", "--version"], capture_output=True).returncode != 0:
        pytest.skip("make is not installed")
    # run from `make test` itself, a nested make would announce its directory: a clean environment, no -w
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    run = subprocess.run(["make", "-n", "--no-print-directory", target, "PYTHON=python3-externally-managed",
                          f"VENV={tmp_path / 'env'}"], cwd=REPO, capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL, env=env)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


@pytest.mark.parametrize("target", ["app", "test"])
def test_make_creates_and_uses_its_own_environment(target: str, tmp_path: Path) -> None:
    """PEP 668: the system interpreter only creates the venv; every pip, streamlit and pytest runs inside it."""
    env_python = f"{tmp_path / 'env'}/bin/python"
    lines = make_dry_run(target, tmp_path)
    assert lines[0] == f"python3-externally-managed -m venv {tmp_path / 'env'}"
    # a command may set environment variables first (make test runs the channels-first tests with oneDNN off)
    commands = [re.sub(r"^([A-Z_]+=\S* )+", "", line) for line in lines[1:]]
    assert all(c.startswith((env_python + " -m ", f"{tmp_path / 'env'}/bin/")) for c in commands), lines
    assert commands[0].startswith(f"{env_python} -m pip install")
    last = {"app": f"{env_python} -m streamlit run app/main.py", "test": f"{env_python} -m pytest"}[target]
    assert commands[-1].startswith(last), lines
    # made once: an existing environment is reused
    (tmp_path / "env" / "bin").mkdir(parents=True)
    (tmp_path / "env" / "bin" / "python").touch()
    assert make_dry_run(target, tmp_path) == lines[1:]


def test_ci_and_gitignore_follow_the_environment() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text()
    assert ".venv/" in (REPO / ".gitignore").read_text().splitlines()


@pytest.mark.slow
def test_wheel_works_alone_in_a_fresh_environment(wheel: tuple[Path, str], tmp_path: Path) -> None:
    """Install the wheel with only its declared dependencies into a new venv (no system site-packages) and
    run the CLI from an empty folder: summary, graph to SVG (needs Graphviz's dot), a UMAP projection.

    Slow: pip installs TensorFlow and the rest from the package index (about 3 min on a loaded 2-core
    machine, 1.5 GB), the commands then take about a minute.
    """
    import shutil
    import time
    import venv

    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (.ci/run installs it)")
    path, _ = wheel
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    clean_env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    started = time.perf_counter()
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(path)], capture_output=True, text=True,
                             timeout=1800, env=clean_env, stdin=subprocess.DEVNULL)
    assert install.returncode == 0, install.stderr[-3000:]
    installed_seconds = time.perf_counter() - started
    empty = tmp_path / "empty"
    empty.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(env_dir / "bin" / args[0]), *args[1:]], cwd=empty, capture_output=True,
                              text=True, timeout=900, env=clean_env, stdin=subprocess.DEVNULL)

    where = run("python", "-c", "import inspector, importlib.metadata as m; print(inspector.__file__);"
                                "print(sorted(d.metadata['Name'] for d in m.distributions()))")
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(env_dir)), where.stdout  # the wheel's copy, not this checkout's
    present = {normalize(n) for n in ast.literal_eval(where.stdout.splitlines()[1])}
    assert not {"umap-learn", "scikit-learn", "graphviz", "jax", "pytest"} & present
    otto = REPO / "sample_models" / "otto_mlp" / "model.keras"
    embeddings = REPO / "sample_models" / "entity_embeddings" / "model.keras"
    summary = run("keras-inspector", "summary", str(otto), "--format", "csv")
    assert summary.returncode == 0, summary.stderr
    assert "softmax,Activation" in summary.stdout
    graph = run("keras-inspector", "graph", str(otto), "-o", "x.svg")
    assert graph.returncode == 0, graph.stderr
    assert (empty / "x.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    project = run("keras-inspector", "project", str(embeddings), "--layer", "emb_group_1", "-o", "coords.csv")
    assert project.returncode == 0, project.stderr  # UMAP: numba, scipy, threadpoolctl come with the wheel
    header, *rows = (empty / "coords.csv").read_text().splitlines()
    assert "x" in header.split(",") and "y" in header.split(",") and len(rows) > 2
    sample = run("python", "-c", "import inspector; s = inspector.get_sample('otto_mlp'); print(s.path);"
                                 "print(inspector.summary_frame(inspector.build_graph(s.path)).attrs['total_params'])")
    assert sample.returncode == 0, sample.stderr
    assert sample.stdout.startswith(str(env_dir)) and sample.stdout.split()[-1].isdigit(), sample.stdout
    _serves_first_page(env_dir / "bin" / "keras-inspector", empty, clean_env)
    print(f"\nwheel smoke: install {installed_seconds:.0f} s, commands {time.perf_counter() - started - installed_seconds:.0f} s")


def _serves_first_page(cli: Path, folder: Path, env: dict[str, str]) -> None:
    """``keras-inspector app`` from an empty folder serves the app; its first page renders in Chromium."""
    import socket
    import time
    import urllib.request

    chromium = Path("/usr/bin/chromium")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (folder / "app.log").open("w")
    server = subprocess.Popen([str(cli), "app", "--port", str(port), "--no-browser"], cwd=folder, env=env,
                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                time.sleep(1)
        else:
            raise AssertionError((folder / "app.log").read_text()[-3000:])
        if not chromium.exists():
            return  # served; the rendering check needs Debian's chromium (.ci/run installs it)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/", timeout=180_000)
            first = inspector.list_samples()[0]  # the app opens on it
            title = f"Graph · {inspector.static_graph(first.path).name}"
            page.get_by_role("heading", name=title, exact=True).wait_for(timeout=180_000)
            assert page.locator('[data-testid="stException"]').count() == 0
            browser.close()
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
