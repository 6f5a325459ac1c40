"""Batch mode: which vocal files in a folder to generate for, and where their outputs go."""

from __future__ import annotations

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
    def done(self) -> bool:
        """Both outputs already exist (writes are atomic, so an existing file is complete)."""
        return self.out.is_file() and (self.mix is None or self.mix.is_file())


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


def plan_batch(
    vocals: str | Path, out: str | Path, mix: str | Path | None = None, ext: str = ".wav"
) -> list[Job]:
    """Jobs for a file (``out``/``mix`` are files) or a folder (they are folders; same stems).

    Raises:
        SamuelError: missing input, a folder input with a file output, or two inputs that would
            write the same output (same stem, different extensions).
    """
    src = Path(vocals)
    if not src.exists():
        raise SamuelError(f"{src}: vocals not found")
    if src.is_file():
        if Path(out).is_dir():
            raise SamuelError(f"{out}: is a folder; give an output file name (e.g. out.wav)")
        return [Job(src, Path(out), Path(mix) if mix is not None else None)]
    out_dir = Path(out)
    if out_dir.is_file() or out_dir.suffix.lower() in AUDIO_EXTENSIONS:
        raise SamuelError(f"{out_dir}: --vocals is a folder, so --out must be a folder too")
    jobs: list[Job] = []
    seen: dict[str, Path] = {}
    for p in list_inputs(src):
        if p.stem in seen:
            raise SamuelError(f"{p}: same stem as {seen[p.stem]}; outputs would collide")
        seen[p.stem] = p
        mix_p = Path(mix) / f"{p.stem}{ext}" if mix is not None else None
        jobs.append(Job(p, out_dir / f"{p.stem}{ext}", mix_p))
    return jobs
