"""Files given as checkpoints that are not (empty, text, cut off, random bytes, a folder, no read
permission, an audio VAE's checkpoint, a pickle of code): one short line that says what the file
is, from the one loader every command uses; and the refusal reason for every message format
torch has used."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from samuel_pl import safeload
from samuel_pl.cli.main import main
from samuel_pl.errors import SamuelError
from samuel_pl.safeload import UnsafeFileError, load_checkpoint, load_torch_file, refused_object
from tests.conftest import DEBUG_YAML
from tests.reliability.hostile import CHECKPOINTS, ids

# One message per format torch has used for a weights-only refusal, and the object it names.
TORCH_MESSAGES = [
    (  # torch 2.6+ (2.13 here): a module on the block list
        "Weights only load failed. ...\n\nTrying to load unsupported GLOBAL posix.system whose "
        "module posix is blocked.\n\nCheck the documentation of torch.load",
        "posix.system",
    ),
    (  # torch 2.4+: a global that is not on the allow list
        "Weights only load failed. ... WeightsUnpickler error: Unsupported global: GLOBAL "
        "io.open was not an allowed global by default. Please use `torch.serialization.add_safe_"
        "globals([io.open])`",
        "io.open",
    ),
    (  # torch 2.0-2.3
        "Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` "
        "will likely succeed ... Original error: Unsupported class __main__.Payload",
        "__main__.Payload",
    ),
    (  # a REDUCE on a function that is not allowed
        "Weights only load failed. ... Trying to call reduce for unrecognized function "
        "<built-in function open>",
        "open",
    ),
    (  # a BUILD/NEWOBJ on a class instance
        "Weights only load failed. ... Can only build Tensor, Parameter, OrderedDict or types "
        "allowlisted via `add_safe_globals` but got <class 'collections.Counter'>",
        "collections.Counter",
    ),
]


@pytest.mark.parametrize("message,named", TORCH_MESSAGES, ids=[m[1] for m in TORCH_MESSAGES])
def test_every_torch_refusal_format_names_the_object(message: str, named: str) -> None:
    assert refused_object(message) == named
    assert safeload.refusal_reason(message).startswith(f"it wants to build {named}, ")


def test_the_installed_torch_refusal_is_recognised(tmp_path: Path) -> None:
    """The message of the torch in use (a canary for a future wording change)."""
    case = next(c for c in CHECKPOINTS if c.name == "ckpt_pickle")
    case.write(tmp_path / "evil.ckpt")
    try:
        torch.load(tmp_path / "evil.ckpt", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - the raw torch message
        raw = str(exc)
    assert refused_object(raw) == "posix.system", raw
    with pytest.raises(UnsafeFileError, match=r"evil\.ckpt: refused to load checkpoint: it wants"):
        load_torch_file(tmp_path / "evil.ckpt")


@pytest.mark.parametrize("case", CHECKPOINTS, ids=ids(CHECKPOINTS))
def test_bad_checkpoints_are_named_in_one_short_line(case, tmp_path: Path) -> None:
    path = tmp_path / f"{case.name}.ckpt"
    case.write(path)
    with pytest.raises(SamuelError) as err:
        load_checkpoint(path, "diffusion")
    message = str(err.value)
    assert re.search(re.escape(f"{path}: ") + case.problem, message), message
    assert "\n" not in message and len(message) < 260 + len(str(path)) * 2, message


def test_legacy_format_files_and_odd_paths(tmp_path: Path, monkeypatch) -> None:
    torch.save({"w": torch.ones(2)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    assert torch.equal(load_torch_file(tmp_path / "old.pt")["w"], torch.ones(2))
    cut = tmp_path / "old-cut.pt"
    cut.write_bytes((tmp_path / "old.pt").read_bytes()[:60])
    with pytest.raises(SamuelError, match=r"old-cut\.pt: not a checkpoint file \(truncated\)"):
        load_torch_file(cut)
    (tmp_path / "dir.ckpt").mkdir()
    with pytest.raises(SamuelError, match=r"dir\.ckpt: is a folder, not a checkpoint file"):
        load_torch_file(tmp_path / "dir.ckpt")
    with pytest.raises(SamuelError, match=r"none\.ckpt: checkpoint not found"):
        load_torch_file(tmp_path / "none.ckpt")

    def refuse(p, *a, **k):  # what open() does for a file the user may not read (root may)
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(safeload, "open", refuse, raising=False)
    with pytest.raises(SamuelError, match=r"old\.pt: permission denied \(the checkpoint cannot"):
        load_torch_file(tmp_path / "old.pt")


def _vocal(path: Path) -> Path:
    sf.write(str(path), (0.3 * np.sin(np.arange(8000) / 8)).astype(np.float32), 16000)
    return path


@pytest.mark.parametrize("case", CHECKPOINTS, ids=ids(CHECKPOINTS))
def test_generate_says_what_the_checkpoint_is(case, tmp_path: Path, capsys) -> None:
    ckpt = tmp_path / "model.ckpt"
    case.write(ckpt)
    voc = _vocal(tmp_path / "v.wav")
    args = ["generate", "--ckpt", str(ckpt), "--vocals", str(voc), "--out", str(tmp_path / "o")]
    assert main([*args[:-1], str(tmp_path / "o.wav"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(re.escape(f"error: {ckpt}: ") + case.problem, err), err
    assert len(err) < 300 + len(str(ckpt)) * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt", "v.wav"]
    assert not Path("/tmp/samuel-pwned").exists()


def test_fit_resume_from_a_vae_checkpoint_is_one_line(
    debug_overrides: list[str], tmp_path: Path, capsys
) -> None:
    case = next(c for c in CHECKPOINTS if c.name == "ckpt_vae")
    (tmp_path / "old" / "checkpoints").mkdir(parents=True)
    ckpt = tmp_path / "old" / "checkpoints" / "last.ckpt"
    case.write(ckpt)
    args = ["fit", "--config", str(DEBUG_YAML), *debug_overrides, "tracking.enabled=false"]
    assert main([*args, f"resume={ckpt}", "callbacks.num_sample_songs=0"]) == 2
    err = capsys.readouterr().err  # Lightning's INFO lines (or, when an earlier test closed
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]  # its stream, its
    assert len(lines) == 1, err  # logging errors) come before the one error line
    line = lines[0]
    assert len(line) < 300 + 2 * len(str(ckpt)), line
    assert f"{ckpt}: this is an audio VAE checkpoint; use it as codec.path={ckpt}" in line


def test_no_module_calls_torch_load_but_the_loader() -> None:
    import ast

    from tests.conftest import REPO

    callers = set()
    for path in sorted((REPO / "samuel_pl").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = getattr(node.func.value, "id", "")
                if (owner, node.func.attr) == ("torch", "load") or (
                    node.func.attr == "load_from_checkpoint"
                ):
                    callers.add(str(path.relative_to(REPO)))
    assert callers == {"samuel_pl/safeload.py"}
