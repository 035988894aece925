"""The Python examples of README.md and docs/*.md run, as the docstrings' examples do.

Every ```python block of a document runs, in order, in one namespace (a later block may use an earlier
block's names), in an empty working folder; a failure points at the document's own line. Documents are
found by globbing, so a new ``docs/*.md`` is tested without editing this file. Names called as
``inspector.NAME(...)`` in the prose (inline code too) must be functions of the package: that is how
``inspector.rendering(...)`` (a sub-package, not the function ``render``) went unnoticed in two documents.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import inspector

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted({*REPO.glob("*.md"), *REPO.glob("docs/**/*.md"), *REPO.glob("sample_models/*.md")})

_BLOCK = re.compile(r"^```(?:python|py)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_CALL = re.compile(r"\binspector\.([A-Za-z_]\w*)\(")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line of the block's first code line, code) for each ```python block of a Markdown text."""
    return [(text.count("\n", 0, match.start(1)) + 1, match.group(1)) for match in _BLOCK.finditer(text)]


def test_python_blocks_are_found_with_their_lines() -> None:
    text = "intro\n```python\nx = 1\n```\nprose\n```bash\nls\n```\n```py\ny = x\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (10, "y = x\n")]


def _name(document: Path) -> str:
    return document.relative_to(REPO).as_posix()


def _has_examples(document: Path) -> bool:
    return bool(python_blocks(document.read_text(encoding="utf-8")))


def test_the_readme_and_docs_have_examples() -> None:
    assert {"README.md", "docs/cost.md"} <= {_name(d) for d in DOCUMENTS if _has_examples(d)}


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if _has_examples(d)], ids=_name)
def test_python_examples_run(document: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(document.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict[str, object] = {"__name__": "__main__"}
    for line, code in blocks:
        # padding with blank lines makes a traceback name the document's own line numbers
        exec(compile("\n" * (line - 1) + code, str(document), "exec"), namespace)


@pytest.mark.parametrize("document", DOCUMENTS, ids=_name)
def test_functions_named_in_the_prose_exist(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    wrong = sorted({name for name in _CALL.findall(text) if not callable(getattr(inspector, name, None))})
    assert not wrong, f"{_name(document)} calls inspector.{wrong} which the package does not have as functions"
