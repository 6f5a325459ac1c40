"""Package structure rules: one-way imports, small files, every command's --help."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "samuel_pl"

# Each top-level package or module of samuel_pl and its level: a module may import only from
# levels at or below its own (README, Development). Entry-point shims (`python -m
# samuel_pl.fit`, ...) sit above everything and may only call the CLI.
LEVELS = {
    "cli": 8,
    "sweeps": 7,
    "reports": 7,
    "web": 7,
    "evaluation": 6,
    "baselines": 5,
    "generation": 4,
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
    "files": 0,
    "errors": 0,
    "safeload": 0,
}
# samuel_pl/__init__.py is the public facade (lazy exports): it may name any layer.
ENTRY_POINTS = {"__init__", "__main__", "encode", "evaluate", "fit", "generate", "report"}
ENTRY_POINTS |= {"live", "serve", "summary", "sweep"}
PURE = {"nn", "diffusion"}
FORBIDDEN_IN_PURE = {"lightning", "pytorch_lightning", "mlflow"}
# Imports the levels alone would allow but the design forbids (own package -> targets).
FORBIDDEN = {
    "nn": {"config", "diffusion", "data", "codecs", "lit", "metrics"},
    "diffusion": {"config", "nn", "data", "codecs", "lit", "metrics"},
    "lit": {"data", "training"},
    "data": {"lit", "training"},
    "metrics": {"codecs", "tracking", "plots"},
    "codecs": {"metrics", "tracking", "plots"},
    "tracking": {"codecs", "metrics", "plots"},
    "sweeps": {"reports", "web"},
    "reports": {"sweeps", "web"},
    "web": {"sweeps", "reports"},
}
# config may look up nn/diffusion names lazily (inside a function), never at import time.
NO_TOP_LEVEL = {"config": {"nn", "diffusion"}}


def _top(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0].removesuffix(".py")


def _target(name: str) -> str:
    return name.split(".")[1] if name.startswith("samuel_pl.") else ""


def _imports(source: str, top_level_only: bool = False) -> list[str]:
    tree = ast.parse(source)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _violations(own: str, names: list[str], top_level: list[str] | None = None) -> list[str]:
    bad = []
    for name in names:
        if own in PURE and any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_PURE):
            bad.append(f"{own}/ must stay pure torch but imports {name}")
        target = _target(name)
        if target in LEVELS and target != own and LEVELS[target] > LEVELS[own]:
            bad.append(f"{own} imports upward from {target}")
        if target in FORBIDDEN.get(own, ()):
            bad.append(f"{own} must not import {target} ({name})")
    for name in top_level or []:
        if _target(name) in NO_TOP_LEVEL.get(own, ()):
            bad.append(f"{own} imports {name} at import time (look it up inside the function)")
    return bad


FILES = sorted(p for p in PKG.rglob("*.py") if _top(p) in LEVELS and p.name != "__main__.py")
# `python -m samuel_pl.<cmd>` and `python -m samuel_pl.<package>` shims.
SHIMS = sorted(
    p
    for p in PKG.rglob("*.py")
    if p.name == "__main__.py" or (p.parent == PKG and p.stem in ENTRY_POINTS - {"__init__"})
)


def test_every_package_has_a_level() -> None:
    tops = {_top(p) for p in PKG.rglob("*.py")}
    assert tops - set(LEVELS) - ENTRY_POINTS == set(), "add new packages to LEVELS"
    assert set(LEVELS) - tops == set(), "LEVELS names a package that no longer exists"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_flow_one_way(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    own = _top(path)
    assert _violations(own, _imports(source), _imports(source, top_level_only=True)) == [], path


@pytest.mark.parametrize("path", SHIMS, ids=lambda p: str(p.relative_to(PKG)))
def test_entry_points_only_call_the_cli(path: Path) -> None:
    targets = {_target(n) for n in _imports(path.read_text(encoding="utf-8"))} - {""}
    assert targets <= {"cli"}, f"{path.name} imports {sorted(targets)}: shims call samuel_pl.cli"


def test_layering_check_catches_upward_impure_and_forbidden_imports() -> None:
    names = _imports("from samuel_pl.lit import LitSamuel\nimport lightning.pytorch as pl\n")
    found = _violations("nn", names)
    assert any("upward from lit" in v for v in found)
    assert any("lightning" in v for v in found)
    assert _violations("cli", names) == []
    assert _violations("lit", ["samuel_pl.data.cache"]) == [
        "lit must not import data (samuel_pl.data.cache)"
    ]
    assert _violations("nn", ["samuel_pl.config.schema"]) != []
    assert _violations("metrics", ["samuel_pl.codecs.mel"]) != []
    assert _violations("sweeps", ["samuel_pl.reports.build"]) != []
    src = "from samuel_pl.nn.unet import SamuelUNet\ndef f():\n    from samuel_pl.nn import x\n"
    top = _imports(src, top_level_only=True)
    assert top == ["samuel_pl.nn.unet"]
    assert len(_violations("config", _imports(src), top)) == 1


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: p.name)
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, f"{path} is over 400 lines"


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


# The MLflow client's API; outside tracking/ a module calls tracking's named functions instead.
MLFLOW_CALLS = {
    "create_run", "set_tag", "set_tags", "log_param", "log_metric", "log_batch", "log_artifact",
    "log_artifacts", "update_run", "set_terminated", "download_artifacts", "get_metric_history",
    "list_artifacts", "search_runs", "get_run", "create_experiment", "get_experiment_by_name",
}  # fmt: skip


def _client_calls(source: str) -> list[str]:
    return [
        f"{ast.unparse(node.func)} (line {node.lineno})"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in MLFLOW_CALLS
    ]


@pytest.mark.parametrize(
    "path", [p for p in FILES if _top(p) != "tracking"], ids=lambda p: str(p.relative_to(PKG))
)
def test_only_tracking_calls_the_mlflow_client(path: Path) -> None:
    assert _client_calls(path.read_text(encoding="utf-8")) == [], path


def test_client_call_check_finds_a_client_call() -> None:
    assert _client_calls("client.set_tag(run, 'a', 'b')\n") == ["client.set_tag (line 1)"]


def _module_name(path: Path) -> str:
    parts = ["samuel_pl", *path.relative_to(PKG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the samuel_pl modules it imports anywhere (lazy imports too): ``from a.b import
    c`` is an edge to ``a.b.c`` when that is a module, else to the deepest module of ``a.b``."""
    mods = set(sources)

    def owner(name: str) -> str:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for mod, source in sources.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                edges |= {owner(a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    edges.add(sub if sub in mods else owner(node.module))
        graph[mod] = edges - {mod, "", "samuel_pl"}  # the facade names every layer, lazily
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_samuel_pl() -> None:
    sources = {_module_name(p): p.read_text(encoding="utf-8") for p in PKG.rglob("*.py")}
    assert _cycles(_import_graph(sources)) == []


def test_cycle_check_finds_a_lazy_circle() -> None:
    sources = {
        "samuel_pl.codecs": "from samuel_pl.codecs.mel import MelCodec\n",
        "samuel_pl.codecs.mel": "def f():\n    from samuel_pl.codecs.vocoder import load\n",
        "samuel_pl.codecs.vocoder": "def g():\n    from samuel_pl.codecs import mel\n",
        "samuel_pl.codecs.base": "import samuel_pl.codecs.mel\n",
    }
    assert _cycles(_import_graph(sources)) == [["samuel_pl.codecs.mel", "samuel_pl.codecs.vocoder"]]


# A file name says what it holds, and one name means one thing: two modules under samuel_pl/
# share a basename only when they are the same concept. Each exception names its exact paths.
COMMANDS = ENTRY_POINTS - {"__init__", "__main__"}
SAME_CONCEPT = {
    # Python's package markers and `python -m` entry points.
    "__init__": "package marker",
    "__main__": "`python -m samuel_pl` / `python -m samuel_pl.data`: both run the CLI",
    # One model seen from each layer: its config section, its LightningModule, its codec or
    # baseline wrapper; the package says which side (config/, lit/, codecs/, baselines/).
    "vae": "the Oobleck-style audio VAE: config section, LightningModule, codec",
    "vocoder": "the mel codec's vocoder: config section, LightningModule, codec-side loader",
    "samuel": "the SAMUeL denoiser: LightningModule, and the same model as a baseline generator",
    # Each plugin package's interface (the protocol its members implement).
    "base": "the package's protocol: Generator (baselines), LatentCodec (codecs), Metric (metrics)",
}
SAME_CONCEPT_PATHS = {
    "__main__": {"__main__.py", "data/__main__.py"},
    "vae": {"config/vae.py", "lit/vae.py", "codecs/vae.py"},
    "vocoder": {"config/vocoder.py", "lit/vocoder.py", "codecs/vocoder.py"},
    "samuel": {"lit/samuel.py", "baselines/samuel.py"},
    "base": {"baselines/base.py", "codecs/base.py", "metrics/base.py"},
}
# `python -m samuel_pl.<cmd>` (samuel_pl/<cmd>.py) and the command it runs (cli/<cmd>.py).
SAME_CONCEPT_PATHS |= {c: {f"{c}.py", f"cli/{c}.py"} for c in COMMANDS}


def _shared_basenames(paths: list[str]) -> dict[str, set[str]]:
    """Basenames held by more than one module, each with its paths (relative to samuel_pl/)."""
    by_name: dict[str, set[str]] = {}
    for p in paths:
        by_name.setdefault(Path(p).stem, set()).add(p)
    return {name: ps for name, ps in by_name.items() if len(ps) > 1}


def _unexplained(shared: dict[str, set[str]]) -> list[str]:
    bad = []
    for name, paths in sorted(shared.items()):
        if name == "__init__":
            continue
        if name not in SAME_CONCEPT_PATHS and name not in COMMANDS:
            bad.append(f"{name}.py: {sorted(paths)} (rename so the name says what each holds)")
        elif paths != SAME_CONCEPT_PATHS[name]:
            bad.append(
                f"{name}.py: {sorted(paths)}, allowed only {sorted(SAME_CONCEPT_PATHS[name])}"
            )
    return bad


def test_one_name_means_one_thing() -> None:
    paths = [p.relative_to(PKG).as_posix() for p in PKG.rglob("*.py")]
    assert _unexplained(_shared_basenames(paths)) == []
    assert set(SAME_CONCEPT_PATHS) - set(COMMANDS) <= set(SAME_CONCEPT), "justify each exception"
    for cmd in COMMANDS:  # a command's top-level module is only its shim
        shim = (PKG / f"{cmd}.py").read_text(encoding="utf-8")
        assert f'run_module("{cmd}")' in shim and len(shim.splitlines()) <= 8, cmd


def test_basename_check_catches_a_shared_name() -> None:
    shared = _shared_basenames(["jobs/summary.py", "cli/summary.py", "summary.py", "a/x.py"])
    assert _unexplained(shared) == [
        "summary.py: ['cli/summary.py', 'jobs/summary.py', 'summary.py'],"
        " allowed only ['cli/summary.py', 'summary.py']"
    ]
    assert _unexplained(_shared_basenames(["server/check.py", "jobs/check.py"])) == [
        "check.py: ['jobs/check.py', 'server/check.py'] (rename so the name says what each holds)"
    ]
    assert _unexplained(_shared_basenames(["__init__.py", "nn/__init__.py", "vae.py"])) == []
