"""Package structure rules: one-way imports, small files, every command's --help."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "samuel_pl"

# A package may import only from packages at its level or below (DESIGN.md).
LEVELS = {
    "cli": 6,
    "sweeps": 6,
    "reports": 5,
    "web": 5,
    "evaluation": 5,
    "baselines": 4,
    "generation": 3,
    "training": 3,
    "lit": 2,
    "data": 2,
    "codecs": 1,
    "metrics": 1,
    "tracking": 1,
    "plots": 1,
    "nn": 0,
    "diffusion": 0,
    "config": 0,
    "audio": 0,
    "errors": 0,
    "safeload": 0,
}
PURE = {"nn", "diffusion"}
FORBIDDEN_IN_PURE = {"lightning", "pytorch_lightning", "mlflow", "samuel_pl.data"}


def _top(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0].removesuffix(".py")


def _imports(source: str) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _violations(own: str, names: list[str]) -> list[str]:
    bad = []
    for name in names:
        if own in PURE and any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_PURE):
            bad.append(f"{own}/ must stay pure torch but imports {name}")
        target = name.split(".")[1] if name.startswith("samuel_pl.") else ""
        if target in LEVELS and target != own and LEVELS[target] > LEVELS[own]:
            bad.append(f"{own} imports upward from {target}")
    return bad


# Entry-point shims (`python -m samuel_pl.<cmd>`) may call the CLI.
FILES = sorted(p for p in PKG.rglob("*.py") if _top(p) in LEVELS and p.name != "__main__.py")


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_flow_one_way(path: Path) -> None:
    assert _violations(_top(path), _imports(path.read_text(encoding="utf-8"))) == [], path


def test_layering_check_catches_upward_and_impure_imports() -> None:
    names = _imports("from samuel_pl.lit import LitSamuel\nimport lightning.pytorch as pl\n")
    found = _violations("nn", names)
    assert any("upward from lit" in v for v in found)
    assert any("lightning" in v for v in found)
    assert _violations("cli", names) == []


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: p.name)
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 500, f"{path} is over 500 lines"


def test_every_command_has_help() -> None:
    from samuel_pl.cli.main import _available

    for name in _available():
        proc = subprocess.run(
            [sys.executable, "-m", "samuel_pl.cli.main", name, "--help"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, (name, proc.stderr)
        assert "usage:" in proc.stdout
