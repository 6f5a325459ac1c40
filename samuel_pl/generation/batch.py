"""Batch mode: which vocal files in a folder to generate for, and where their outputs go.

No output may land on an input or on another output (compared after resolving symlinks, and by
inode for hard links), and an existing file is only replaced when the caller allows it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from samuel_pl.audio import AUDIO_EXTENSIONS
from samuel_pl.errors import SamuelError


@dataclass(frozen=True)
class Job:
    """One input file and its outputs."""

    vocals: Path
    out: Path
    mix: Path | None

    @property
    def outputs(self) -> list[Path]:
        """The files this job writes."""
        return [self.out] if self.mix is None else [self.out, self.mix]

    @property
    def done(self) -> bool:
        """Both outputs already exist (writes are atomic, so an existing file is complete)."""
        return all(p.is_file() for p in self.outputs)


def list_inputs(folder: str | Path) -> list[Path]:
    """Audio files (by extension) directly inside ``folder``, sorted by name."""
    root = Path(folder)
    files = [
        p
        for p in sorted(root.iterdir())
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in AUDIO_EXTENSIONS
    ]
    if not files:
        exts = ", ".join(AUDIO_EXTENSIONS)
        raise SamuelError(f"{root}: no audio files ({exts}) in the folder")
    return files


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file or folder (symlinks resolved; hard links by inode)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def plan_batch(
    vocals: str | Path, out: str | Path, mix: str | Path | None = None, ext: str = ".wav"
) -> list[Job]:
    """Jobs for a file (``out``/``mix`` are files) or a folder (they are folders; same stems).

    Raises:
        SamuelError: missing input, a folder input with a file output, two inputs that would
            write the same output (same stem, different extensions), or an output that is an
            input, another output, or (folder mode) an output folder that is an input folder.
    """
    src = Path(vocals)
    if not src.exists():
        raise SamuelError(f"{src}: vocals not found")
    if src.is_file():
        if Path(out).is_dir():
            raise SamuelError(f"{out}: is a folder; give an output file name (e.g. out.wav)")
        single = [Job(src, Path(out), Path(mix) if mix is not None else None)]
        _check_collisions(single)
        return single
    out_dir = Path(out)
    if out_dir.is_file() or out_dir.suffix.lower() in AUDIO_EXTENSIONS:
        raise SamuelError(f"{out_dir}: --vocals is a folder, so --out must be a folder too")
    folders = {"--out": out_dir, **({"--mix": Path(mix)} if mix is not None else {})}
    for flag, folder in folders.items():
        if same_file(folder, src):
            raise SamuelError(
                f"{folder}: {flag} is the --vocals folder; write the outputs to another folder"
            )
    if mix is not None and same_file(out_dir, Path(mix)):
        raise SamuelError(f"{mix}: --mix is the --out folder; give them different folders")
    jobs: list[Job] = []
    seen: dict[str, Path] = {}
    for p in list_inputs(src):
        if p.stem in seen:
            raise SamuelError(f"{p}: same stem as {seen[p.stem]}; outputs would collide")
        seen[p.stem] = p
        mix_p = Path(mix) / f"{p.stem}{ext}" if mix is not None else None
        jobs.append(Job(p, out_dir / f"{p.stem}{ext}", mix_p))
    _check_collisions(jobs)
    return jobs


def _check_collisions(jobs: list[Job]) -> None:
    """SamuelError when an output is an input or two outputs are one file."""
    inputs = [j.vocals for j in jobs]
    outputs: list[Path] = []
    for job in jobs:
        for path in job.outputs:
            for other in inputs:
                if same_file(path, other):
                    raise SamuelError(f"{path}: is the input {other}; it would be overwritten")
            for other in outputs:
                if same_file(path, other):
                    raise SamuelError(f"{path}: written twice (also as {other})")
            outputs.append(path)


def pending(jobs: list[Job], batch: bool, overwrite: bool) -> list[Job]:
    """The jobs to run. Without ``overwrite`` an existing output is never replaced: a finished
    folder-mode job is skipped; any other existing output is a SamuelError naming it."""
    if overwrite:
        return list(jobs)
    todo = []
    for job in jobs:
        if batch and job.done:
            continue
        for path in job.outputs:
            if path.exists():
                raise SamuelError(f"{path}: already exists; pass --overwrite to replace it")
        todo.append(job)
    return todo
