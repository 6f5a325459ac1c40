"""`samuel generate` never writes over an input or another output (symlinks, hard links and
folder mode included), never replaces an existing file without --overwrite, and rejects flag
values that cannot work before it loads the model."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from samuel_pl.cli.main import main
from samuel_pl.errors import SamuelError
from samuel_pl.generation.batch import pending, plan_batch

FAST = ["--sampler", "ddim", "--steps", "2", "--quiet", "--device", "cpu"]


def _vocal(path: Path, seconds: float = 0.3, sr: int = 22050) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), sr)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _generate(ckpt: Path | str, vocals: Path, out: Path, *extra: str) -> int:
    args = ["generate", "--ckpt", str(ckpt), "--vocals", str(vocals), "--out", str(out)]
    return main([*args, *FAST, *extra])


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err.strip()


def test_file_mode_refuses_outputs_on_inputs_and_on_each_other(tmp_path: Path) -> None:
    voc = _vocal(tmp_path / "take.wav")
    (tmp_path / "link.wav").symlink_to(voc)
    os.link(voc, tmp_path / "hard.wav")
    cases = [
        (voc, None, "it would be overwritten"),  # --out is --vocals
        (tmp_path / "a.wav", voc, "it would be overwritten"),  # --mix is --vocals
        (tmp_path / "a.wav", tmp_path / "a.wav", "written twice"),  # --out is --mix
        (tmp_path / "link.wav", None, "it would be overwritten"),  # a symlink to the input
        (tmp_path / "hard.wav", None, "it would be overwritten"),  # a hard link to it
        (tmp_path / "sub" / ".." / "take.wav", None, "it would be overwritten"),
    ]
    for out, mix, problem in cases:
        with pytest.raises(SamuelError, match=problem):
            plan_batch(voc, out, mix)
    assert len(plan_batch(voc, tmp_path / "a.wav", tmp_path / "m.wav")) == 1


def test_folder_mode_refuses_the_input_folder_and_shared_output_folders(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _vocal(src / "a.wav")
    _vocal(src / "b.flac")
    (tmp_path / "in-link").symlink_to(src)
    with pytest.raises(SamuelError, match=r"--out is the --vocals folder"):
        plan_batch(src, src)
    with pytest.raises(SamuelError, match=r"--out is the --vocals folder"):
        plan_batch(src, tmp_path / "in-link")
    with pytest.raises(SamuelError, match=r"--mix is the --vocals folder"):
        plan_batch(src, tmp_path / "out", src)
    with pytest.raises(SamuelError, match=r"--mix is the --out folder"):
        plan_batch(src, tmp_path / "out", tmp_path / "out")
    # An output inside the output folder that links back to an input is found too.
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "b.wav").symlink_to(src / "b.flac")
    with pytest.raises(SamuelError, match=r"out/b\.wav: is the input .*b\.flac"):
        plan_batch(src, tmp_path / "out")


def test_existing_outputs_are_kept_unless_overwrite(tmp_path: Path) -> None:
    voc = _vocal(tmp_path / "take.wav")
    (tmp_path / "old.wav").write_bytes(b"old")
    jobs = plan_batch(voc, tmp_path / "old.wav")
    with pytest.raises(SamuelError, match=r"old\.wav: already exists; pass --overwrite"):
        pending(jobs, batch=False, overwrite=False)
    assert pending(jobs, batch=False, overwrite=True) == jobs
    # Folder mode: finished jobs are skipped; a half-finished one is not silently redone.
    src = tmp_path / "in"
    _vocal(src / "a.wav")
    _vocal(src / "b.wav")
    out, mix = tmp_path / "out", tmp_path / "mix"
    for folder in (out, mix):
        folder.mkdir()
        (folder / "a.wav").write_bytes(b"done")
    jobs = plan_batch(src, out, mix)
    assert [j.vocals.name for j in pending(jobs, batch=True, overwrite=False)] == ["b.wav"]
    (mix / "a.wav").unlink()
    with pytest.raises(SamuelError, match=r"out/a\.wav: already exists"):
        pending(jobs, batch=True, overwrite=False)
    assert len(pending(jobs, batch=True, overwrite=True)) == 2


def test_cli_never_overwrites_the_vocal(debug_ckpt: Path, tmp_path: Path, capsys) -> None:
    voc = _vocal(tmp_path / "take.wav")
    before = _digest(voc)
    (tmp_path / "same.wav").symlink_to(voc)
    for out, extra in [
        (voc, []),
        (tmp_path / "same.wav", []),
        (tmp_path / "acc.wav", ["--mix", str(voc)]),
        (tmp_path / "acc.wav", ["--mix", str(tmp_path / "acc.wav")]),
        (voc, ["--overwrite"]),  # --overwrite never lets an output replace an input
    ]:
        assert _generate(debug_ckpt, voc, out, *extra) == 2
        assert re.search(r"(it would be overwritten|written twice)", _error(capsys))
    assert _digest(voc) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.wav", "take.wav"]


def test_cli_replaces_an_existing_output_only_with_overwrite(
    debug_ckpt: Path, tmp_path: Path, capsys
) -> None:
    voc = _vocal(tmp_path / "take.wav")
    out = tmp_path / "acc.wav"
    out.write_bytes(b"keep me")
    assert _generate(debug_ckpt, voc, out) == 2
    assert f"{out}: already exists; pass --overwrite" in _error(capsys)
    assert out.read_bytes() == b"keep me"
    assert _generate(debug_ckpt, voc, out, "--overwrite") == 0
    assert sf.info(str(out)).frames == sf.info(str(voc)).frames


@pytest.mark.parametrize(
    "flag,value,message",
    [
        ("--cfg", "nan", "--cfg must be a finite number >= 0, got nan"),
        ("--cfg", "inf", "--cfg must be a finite number >= 0, got inf"),
        ("--cfg", "-1", "--cfg must be a finite number >= 0, got -1.0"),
        ("--window", "0", "--window must be >= 1, got 0"),
        ("--overlap", "-1", "--overlap must be >= 0, got -1"),
        ("--crossfade", "-3", "--crossfade must be >= 0, got -3"),
        ("--steps", "0", "--steps must be >= 1, got 0"),
        ("--seed", "-1", "--seed must be in [0, 2**63), got -1"),
        ("--max-seconds", "0", "--max-seconds must be a positive number, got 0.0"),
        ("--device", "tpu", "unknown device 'tpu'"),
    ],
)
def test_bad_flags_fail_before_the_model_is_loaded(
    flag: str, value: str, message: str, tmp_path: Path, capsys
) -> None:
    voc = _vocal(tmp_path / "take.wav")
    # The checkpoint does not exist: the flag must be the first (and only) thing reported.
    missing = tmp_path / "missing.ckpt"
    args = ["generate", "--ckpt", str(missing), "--vocals", str(voc)]
    assert main([*args, "--out", str(tmp_path / "o.wav"), flag, value]) == 2
    line = _error(capsys)
    assert message in line and "missing.ckpt" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.wav"]


def test_accompanist_rejects_a_non_finite_guidance_scale(debug_ckpt: Path) -> None:
    from samuel_pl.generation import Accompanist

    acc = Accompanist.from_checkpoint(debug_ckpt, "cpu")
    with pytest.raises(SamuelError, match="cfg must be a finite number"):
        acc.generate(np.zeros(4000, np.float32) + 0.1, 22050, cfg=float("nan"))
    with pytest.raises(SamuelError, match="window must be >= 1 frame, got 0"):
        Accompanist(acc.module, "cpu", window=0)
