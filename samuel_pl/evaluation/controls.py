"""Control rows: accompaniments that are wrong in one known way, made from the real ones.

A metric earns its place only if the ground truth beats each control it should see through
(``samuel_pl.evaluation.metric_validity``). The controls, as generators (``generate(vocals, sr,
song_id) -> (1, N)``):

- ``random_pairing`` (shuffled): another song's real accompaniment (right style, wrong song);
- ``control_pitch+1`` / ``control_pitch+6``: the true accompaniment transposed up 1 / 6
  semitones by ``librosa.effects.pitch_shift`` (phase-vocoder time stretch, then soxr
  resampling back to the original duration): same rhythm, wrong harmony;
- ``control_vocal_copy``: the vocal itself as the accompaniment (fools a unison-loving metric);
- ``control_tonic_triad``: a static tonic triad of the vocal's key (pyin pitch-class histogram,
  Krumhansl-Schmuckler), at the true accompaniment's RMS level: the right key, no harmonic
  motion and no rhythm;
- ``control_lowpass``: the true accompaniment low-passed at 4 kHz (8th-order Butterworth,
  forward-backward): the right music, dull (what a codec that keeps 4.2 kHz does to it);
- ``control_griffin_lim``: the true accompaniment's STFT magnitude (2048 / hop 512, the mel
  codec's) inverted by 32 Fast Griffin-Lim iterations (momentum 0.99, seeded phase): the right
  spectrum, its phase lost (what Griffin-Lim decoding adds on its own).
"""

from __future__ import annotations

from collections.abc import Callable

import librosa
import numpy as np

from samuel_pl.baselines import GroundTruth, RandomPairing, fit_length

CONTROL_VERSION = 2  # bump when a control's audio changes (generated clips are cached by it)
PITCH_SHIFTS = (1, 6)
TRIAD_ROOT_MIDI = 48  # C3: the triad's root is the tonic in the octave C3-B3
TRIAD_HARMONICS = 6
LOWPASS_HZ = 4000.0
GL_N_FFT, GL_HOP, GL_ITERS = 2048, 512, 32


class _Control:
    parameters = None

    def __init__(self, name: str) -> None:
        self.name = name
        self.cache_key = f"{name}:v{CONTROL_VERSION}"

    def available(self) -> tuple[bool, str]:
        return True, ""


class PitchShifted(_Control):
    """The song's real accompaniment transposed by ``semitones`` (duration kept)."""

    def __init__(self, references: dict[str, np.ndarray], semitones: int) -> None:
        super().__init__(f"control_pitch{semitones:+d}")
        self.references, self.semitones = references, semitones

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        ref = fit_length(self.references[song_id], vocals.shape[-1])[0]
        shifted = librosa.effects.pitch_shift(ref, sr=sample_rate, n_steps=self.semitones)
        return fit_length(shifted, vocals.shape[-1])


class VocalCopy(_Control):
    """The vocal itself, as the accompaniment."""

    def __init__(self) -> None:
        super().__init__("control_vocal_copy")

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        return fit_length(vocals, vocals.shape[-1])


def triad_midis(tonic: int, mode: str) -> list[int]:
    """MIDI notes of the tonic triad (root in C3-B3): root, third (major or minor), fifth."""
    root = TRIAD_ROOT_MIDI + tonic % 12
    return [root, root + (4 if mode == "major" else 3), root + 7]


def sustained_chord(midis: list[int], n: int, sample_rate: int, rms: float) -> np.ndarray:
    """A held chord ``(1, n)``: harmonics 1..6 (amplitude 1/h) per note, 50 ms fades, at ``rms``."""
    t = np.arange(n) / sample_rate
    y = np.zeros(n)
    for m in midis:
        f0 = 440.0 * 2 ** ((m - 69) / 12)
        for h in range(1, TRIAD_HARMONICS + 1):
            if f0 * h < sample_rate / 2:
                y += np.sin(2 * np.pi * f0 * h * t) / h
    fade = min(n // 2, int(0.05 * sample_rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        y[:fade] *= ramp
        y[n - fade :] *= ramp[::-1]
    level = float(np.sqrt(np.mean(y**2))) if n else 0.0
    return (y * (rms / level if level > 0 else 0.0)).astype(np.float32)[None]


class TonicTriad(_Control):
    """A static tonic triad of the vocal's key, as loud (RMS) as the true accompaniment.

    Args:
        references: song id -> real accompaniment ``(1, N)``.
        key_of: song id -> the vocal's key (tonic 0=C, mode).
    """

    def __init__(
        self, references: dict[str, np.ndarray], key_of: Callable[[str], tuple[int, str]]
    ) -> None:
        super().__init__("control_tonic_triad")
        self.references, self.key_of = references, key_of

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        ref = self.references[song_id]
        rms = float(np.sqrt(np.mean(np.square(ref, dtype=np.float64)))) if ref.size else 0.0
        return sustained_chord(
            triad_midis(*self.key_of(song_id)), vocals.shape[-1], sample_rate, rms
        )


class LowPassed(_Control):
    """The song's real accompaniment low-passed at ``LOWPASS_HZ``."""

    def __init__(self, references: dict[str, np.ndarray]) -> None:
        super().__init__("control_lowpass")
        self.references = references

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        from scipy.signal import butter, sosfiltfilt

        ref = fit_length(self.references[song_id], vocals.shape[-1])[0]
        cut = min(LOWPASS_HZ, 0.45 * sample_rate)
        sos = butter(8, cut, fs=sample_rate, output="sos")
        return sosfiltfilt(sos, ref).astype(np.float32)[None]


class GriffinLimOnly(_Control):
    """The song's real accompaniment through |STFT| and Griffin-Lim: only the phase is lost."""

    def __init__(self, references: dict[str, np.ndarray], seed: int = 0) -> None:
        super().__init__("control_griffin_lim")
        self.references, self.seed = references, seed

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        ref = fit_length(self.references[song_id], vocals.shape[-1])[0]
        mag = np.abs(librosa.stft(ref, n_fft=GL_N_FFT, hop_length=GL_HOP))
        out = librosa.griffinlim(
            mag,
            n_iter=GL_ITERS,
            hop_length=GL_HOP,
            n_fft=GL_N_FFT,
            momentum=0.99,
            random_state=self.seed,
            length=ref.shape[-1],
        )
        return fit_length(out, vocals.shape[-1])


ROLES = (
    "ground_truth",
    "shuffled",
    "pitch+1",
    "pitch+6",
    "vocal_copy",
    "tonic_triad",
    "lowpass",
    "griffin_lim",
)


def build_controls(
    references: dict[str, np.ndarray],
    key_of: Callable[[str], tuple[int, str]],
    seed: int,
    rows: list,
) -> tuple[list, dict[str, str]]:
    """(control generators, {role: row name}) for every role of ``ROLES``.

    ``rows``: the suite's own generators; a ``GroundTruth`` or ``RandomPairing`` among them
    serves as the ground truth / shuffled row, else one is added.
    """
    out: list = []
    roles: dict[str, str] = {}
    for role, cls in (("ground_truth", GroundTruth), ("shuffled", RandomPairing)):
        own = next((g for g in rows if isinstance(g, cls)), None)
        if own is None:
            own = GroundTruth(references) if cls is GroundTruth else RandomPairing(references, seed)
            out.append(own)
        roles[role] = own.name
    out += [PitchShifted(references, s) for s in PITCH_SHIFTS]
    out += [VocalCopy(), TonicTriad(references, key_of)]
    out += [LowPassed(references), GriffinLimOnly(references, seed)]
    roles.update(zip(ROLES[2:], [g.name for g in out[-6:]], strict=True))
    return out, roles
