"""Render note lists with a General MIDI SoundFont: tinysoundfont (default) or FluidSynth."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from samuel_pl.errors import DataError

BACKENDS = ("tinysoundfont", "fluidsynth")


@dataclass(frozen=True)
class TimedNote:
    """A note in seconds, ready for a synthesizer."""

    start: float
    end: float
    pitch: int
    velocity: int


def default_soundfont() -> Path:
    """The GM SoundFont that pretty_midi ships (TimGM6mb.sf2), found without importing it."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise DataError("no SoundFont: install pretty_midi or pass --soundfont PATH (.sf2)")
    path = Path(spec.origin).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise DataError(f"{path}: pretty_midi's SoundFont is missing; pass --soundfont PATH")
    return path


def resolve_soundfont(soundfont: str | Path | None) -> Path:
    """The given .sf2 path (checked) or the default one."""
    if not soundfont:
        return default_soundfont()
    path = Path(soundfont).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: SoundFont not found")
    return path


class Renderer:
    """Renders one part (note list + GM program) at a time into stereo float32 ``(2, N)``.

    Args:
        backend: 'tinysoundfont' (pip-only, default) or 'fluidsynth' (the command-line program).
        soundfont: .sf2 path; default is pretty_midi's TimGM6mb.sf2.
        sample_rate: output rate in Hz.
    """

    def __init__(
        self,
        backend: str = "tinysoundfont",
        soundfont: str | Path | None = None,
        sample_rate: int = 44100,
    ) -> None:
        if backend not in BACKENDS:
            raise DataError(f"unknown synth backend {backend!r} (use {' or '.join(BACKENDS)})")
        self.backend = backend
        self.soundfont = resolve_soundfont(soundfont)
        self.sample_rate = sample_rate
        self._synth = None
        self._sfid = 0
        if backend == "fluidsynth" and shutil.which("fluidsynth") is None:
            raise DataError("fluidsynth is not installed (apt-get install fluidsynth)")
        if backend == "tinysoundfont":
            import tinysoundfont

            try:
                self._synth = tinysoundfont.Synth(gain=-6.0, samplerate=sample_rate)
                self._sfid = self._synth.sfload(str(self.soundfont))
            except Exception as exc:
                raise DataError(f"{self.soundfont}: cannot load SoundFont ({exc})") from exc

    def render(self, notes: list[TimedNote], program: int, num_samples: int) -> np.ndarray:
        """Render ``notes`` with GM ``program`` into exactly ``num_samples`` stereo samples."""
        if self.backend == "tinysoundfont":
            return self._render_tsf(notes, program, num_samples)
        return self._render_fluidsynth(notes, program, num_samples)

    def _render_tsf(self, notes: list[TimedNote], program: int, num_samples: int) -> np.ndarray:
        synth = self._synth
        assert synth is not None
        synth.sounds_off()
        synth.program_select(0, self._sfid, 0, int(program))
        sr = self.sample_rate
        events: list[tuple[int, int, int, int]] = []  # (sample, 0=off/1=on, pitch, velocity)
        for n in notes:
            on = int(round(n.start * sr))
            off = max(on + 1, int(round(n.end * sr)))
            events.append((on, 1, n.pitch, n.velocity))
            events.append((off, 0, n.pitch, 0))
        events.sort()
        out = np.zeros((num_samples, 2), dtype=np.float32)  # interleaved like the synth
        pos = 0
        for t, kind, pitch, vel in events:
            t = min(t, num_samples)
            if t > pos:
                out[pos:t] = np.frombuffer(synth.generate(t - pos), dtype=np.float32).reshape(-1, 2)
                pos = t
            if kind:
                synth.noteon(0, pitch, vel)
            else:
                synth.noteoff(0, pitch)
        if pos < num_samples:
            out[pos:] = np.frombuffer(synth.generate(num_samples - pos), np.float32).reshape(-1, 2)
        synth.sounds_off()
        return np.ascontiguousarray(out.T)  # (N, 2) -> (2, N)

    def _render_fluidsynth(
        self, notes: list[TimedNote], program: int, num_samples: int
    ) -> np.ndarray:
        import pretty_midi

        from samuel_pl.audio import read_audio

        pm = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=120.0)
        inst = pretty_midi.Instrument(program=int(program))
        inst.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
        pm.instruments.append(inst)
        with tempfile.TemporaryDirectory(prefix="samuel_fs_") as tmp:
            mid, wav = Path(tmp) / "part.mid", Path(tmp) / "part.wav"
            pm.write(str(mid))
            cmd = ["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(self.sample_rate)]
            cmd += ["-F", str(wav), "-T", "wav", str(self.soundfont), str(mid)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if proc.returncode != 0 or not wav.is_file():
                msg = (proc.stderr or proc.stdout).strip().splitlines()
                raise DataError(f"fluidsynth failed: {msg[-1] if msg else proc.returncode}")
            audio, _ = read_audio(wav, sample_rate=self.sample_rate, channels=2)
        out = np.zeros((2, num_samples), dtype=np.float32)
        n = min(num_samples, audio.shape[1])
        out[:, :n] = audio[:, :n]
        return out
