"""The layer rules of pyproject.toml hold, and `lint-imports` catches an import across them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_code_keeps_its_layers(copy: Path) -> None:
    done = lint_imports(copy)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("classify", "from pressfeed import store", "Stages import neither"),
        ("site", "from pressfeed import publish", "Stages import neither"),
        ("store", "from pressfeed import extract", "The store knows no stage"),
        ("digest", "from pressfeed import cli", "Flows import neither"),
        ("outbox", "from pressfeed import service", "Flows import neither"),
    ],
)
def test_an_import_across_a_layer_is_refused(
    copy: Path, module: str, line: str, contract: str
) -> None:
    path = copy / "src" / "pressfeed" / f"{module}.py"
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    done = lint_imports(copy)
    assert done.returncode == 1
    assert f"{contract}" in done.stdout
    assert "BROKEN" in done.stdout
