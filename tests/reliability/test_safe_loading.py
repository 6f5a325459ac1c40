"""Checkpoints, caches and configs never unpickle arbitrary objects: a crafted pickle that would
create a marker file when loaded is refused by every loader, and the marker never appears."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from samuel_pl.cli.main import main
from samuel_pl.errors import SamuelError
from samuel_pl.safeload import UnsafeFileError, load_torch_file
from tests.conftest import DEBUG_YAML, REPO


class Payload:
    """Unpickling this calls ``open(marker, "w")``: code execution, made visible."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _evil_checkpoint(path: Path, marker: Path) -> Path:
    """A Lightning-shaped checkpoint with the payload tucked into its hyper-parameters."""
    torch.save(
        {
            "state_dict": {"latent_mean": torch.zeros(16)},
            "hyper_parameters": {"config": {"seed": Payload(marker)}},
            "global_step": 3,
        },
        path,
    )
    return path


def test_the_payload_really_runs_when_loaded_unsafely(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    ckpt = _evil_checkpoint(tmp_path / "evil.ckpt", marker)
    torch.load(ckpt, weights_only=False)  # what the loaders below must never do
    assert marker.exists()


def test_load_torch_file_refuses_and_names_the_object(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    ckpt = _evil_checkpoint(tmp_path / "evil.ckpt", marker)
    with pytest.raises(UnsafeFileError, match=r"evil\.ckpt: refused to load checkpoint: .*open"):
        load_torch_file(ckpt)
    assert not marker.exists()
    # Plain tensors/containers and (when allowed) numeric numpy arrays still load.
    torch.save({"w": torch.ones(2), "pca": np.eye(2)}, tmp_path / "ok.pt")
    with pytest.raises(UnsafeFileError):
        load_torch_file(tmp_path / "ok.pt")
    assert np.array_equal(load_torch_file(tmp_path / "ok.pt", allow_numpy=True)["pca"], np.eye(2))


def test_generate_refuses_a_malicious_checkpoint(tmp_path: Path, capsys) -> None:
    import soundfile as sf

    marker = tmp_path / "pwned"
    ckpt = _evil_checkpoint(tmp_path / "evil.ckpt", marker)
    sf.write(str(tmp_path / "v.wav"), np.zeros(4000, np.float32) + 0.1, 16000)
    args = ["generate", "--ckpt", str(ckpt), "--vocals", str(tmp_path / "v.wav")]
    assert main([*args, "--out", str(tmp_path / "o.wav"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"error: {ckpt}: refused to load checkpoint" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "o.wav").exists()


def test_fit_resume_refuses_a_malicious_checkpoint(
    debug_overrides: list[str], tmp_path: Path, capsys
) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "old" / "checkpoints").mkdir(parents=True)
    ckpt = _evil_checkpoint(tmp_path / "old" / "checkpoints" / "last.ckpt", marker)
    args = ["fit", "--config", str(DEBUG_YAML), *debug_overrides, "tracking.enabled=false"]
    assert main([*args, f"resume={ckpt}", "callbacks.num_sample_songs=0"]) == 2
    assert f"{ckpt}: refused to load checkpoint" in capsys.readouterr().err
    assert not marker.exists()


def test_vggish_weights_are_loaded_weights_only(tmp_path: Path) -> None:
    from samuel_pl.metrics.vggish import VGGishEmbedder

    marker = tmp_path / "pwned"
    folder = tmp_path / "vggish"
    folder.mkdir()
    from samuel_pl.metrics.vggish import WEIGHTS_FILE

    torch.save({"conv.weight": Payload(marker)}, folder / WEIGHTS_FILE)
    with pytest.raises(UnsafeFileError, match="refused to load VGGish weights"):
        VGGishEmbedder(weights=folder / WEIGHTS_FILE)
    assert not marker.exists()


def test_latent_cache_refuses_pickled_arrays(debug_overrides: list[str], tmp_path: Path) -> None:
    from samuel_pl.config import load_config
    from samuel_pl.data.cache_build import ensure_cache

    cache = ensure_cache(load_config(DEBUG_YAML, debug_overrides))
    song = cache.songs()[0]
    marker = tmp_path / "pwned"
    target = cache.path / cache.manifest["songs"][0]["files"]["vocals"]
    np.save(target, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(SamuelError, match=r"vocals\.npy: unreadable latent file"):
        cache.load(song)
    assert not marker.exists()


def test_yaml_configs_cannot_construct_python_objects(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "pwned"
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(f"seed: !!python/object/apply:builtins.open ['{marker}', 'w']\n")
    assert main(["fit", "--config", str(cfg), "--print-config"]) == 2
    assert "invalid YAML" in capsys.readouterr().err
    assert not marker.exists()


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and (getattr(n.func, "attr", None) == name or getattr(n.func, "id", None) == name)
    ]


def _kw(call: ast.Call, key: str) -> object:
    for k in call.keywords:
        if k.arg == key and isinstance(k.value, ast.Constant):
            return k.value.value
    return None


def _unsafe_loads(source: str) -> list[str]:
    """torch.load / load_from_checkpoint without weights_only=True, np.load(allow_pickle=True),
    yaml.load and pickle.load(s) calls in ``source`` (as 'line: what')."""
    tree, bad = ast.parse(source), []
    for call in _calls(tree, "load") + _calls(tree, "loads"):
        mod = getattr(getattr(call.func, "value", None), "id", "")
        if mod == "torch" and _kw(call, "weights_only") is not True:
            bad.append(f"{call.lineno}: torch.load without weights_only=True")
        if mod == "np" and _kw(call, "allow_pickle") is True:
            bad.append(f"{call.lineno}: np.load(allow_pickle=True)")
        if mod in ("yaml", "pickle"):
            bad.append(f"{call.lineno}: {mod}.{call.func.attr}")  # type: ignore[attr-defined]
    for call in _calls(tree, "load_from_checkpoint"):
        if _kw(call, "weights_only") is not True:
            bad.append(f"{call.lineno}: load_from_checkpoint without weights_only=True")
    return bad


def test_static_guard_catches_unsafe_loads() -> None:
    src = (
        "torch.load(p)\ntorch.load(p, weights_only=False)\nnp.load(p, allow_pickle=True)\n"
        "yaml.load(t)\npickle.loads(b)\nM.load_from_checkpoint(p)\n"
        "torch.load(p, weights_only=True)\nnp.load(p, mmap_mode='r')\nyaml.safe_load(t)\n"
    )
    assert [b.split(":")[0] for b in _unsafe_loads(src)] == ["1", "2", "3", "4", "5", "6"]


def test_every_loader_in_the_package_is_weights_only() -> None:
    bad = [
        f"{path.relative_to(REPO)}:{b}"
        for path in sorted((REPO / "samuel_pl").rglob("*.py"))
        for b in _unsafe_loads(path.read_text(encoding="utf-8"))
    ]
    assert bad == []
