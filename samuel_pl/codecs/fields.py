"""What a codec's latents look like, read from its config without building the codec.

:func:`mel_identity` is the one home of the mel codec's identity (the values hashed into its
``codec_id``; :class:`~samuel_pl.codecs.mel.MelCodec` and the vocoder's compatibility check both
ask it). The readers below give :class:`LatentFields` per codec type: the mel codec's from the
config alone; ``stable_audio`` from the JSON config beside its weights; ``vae`` from its
checkpoint's saved config (no network is built and no weights are used).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from samuel_pl.config.schema import CodecConfig
from samuel_pl.errors import SamuelError

MEL_CODEC_VERSION = 1  # bump when the mel encoder's maths changes (invalidates caches)
PITCHED_CODEC_VERSION = 1  # the same for the pitched codec (samuel_pl/codecs/pitched.py)
UPPER_BANDS_PER_OCTAVE = 6  # pitched codec, above the semitones: ~1 ERB at 5 kHz
SEMITONE = 2.0 ** (1.0 / 12.0)


@dataclasses.dataclass(frozen=True)
class LatentFields:
    """The shape of a codec's latents: (B, channels, T) with ``hop_length`` audio samples of
    ``audio_channels`` channels at ``sample_rate`` per frame."""

    type: str
    channels: int
    sample_rate: int
    hop_length: int
    audio_channels: int

    @property
    def frame_rate(self) -> float:
        """Latent frames per second of audio."""
        return self.sample_rate / self.hop_length


def mel_f_max(cfg: CodecConfig) -> float:
    """The mel codec's top frequency (Hz): the log scale's top centre, else ``f_max`` (0:
    Nyquist)."""
    if cfg.scale == "log":
        return float(cfg.f_min * 2.0 ** ((cfg.n_mels - 1) / max(cfg.bins_per_octave, 1)))
    return float(cfg.f_max) if cfg.f_max and cfg.f_max > 0 else cfg.sample_rate / 2.0


def mel_identity(cfg: CodecConfig) -> dict[str, Any]:
    """The values that change the mel codec's latents (hashed into its ``codec_id``)."""
    return {
        "version": MEL_CODEC_VERSION,
        "sample_rate": int(cfg.sample_rate),
        "n_mels": int(cfg.n_mels),
        "n_fft": int(cfg.n_fft),
        "hop_length": int(cfg.hop_length),
        "f_min": float(cfg.f_min),
        "f_max": mel_f_max(cfg),
        **(
            {"scale": "log", "bins_per_octave": int(cfg.bins_per_octave)}
            if cfg.scale == "log"
            else {}
        ),
    }


def mel_fields(cfg: CodecConfig) -> LatentFields:
    """Mono log-mel frames of ``n_mels`` channels (pure)."""
    return LatentFields(cfg.type, int(cfg.n_mels), int(cfg.sample_rate), int(cfg.hop_length), 1)


def stable_audio_fields(cfg: CodecConfig) -> LatentFields:
    """Stable Audio Open's VAE as its config file beside the weights describes it."""
    from samuel_pl.codecs import sat_layout
    from samuel_pl.codecs.stable_audio import locate

    found = locate(cfg.path)
    if found["format"] == "diffusers":
        p = Path(found["root"]) / (found["subfolder"] or "") / "config.json"
        try:
            c = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SamuelError(f"{p}: unreadable Oobleck config ({exc})") from None
    else:
        c = sat_layout.diffusers_config(found["config"])
    try:  # keys a diffusers config may leave out take AutoencoderOobleck's defaults
        return LatentFields(
            cfg.type,
            int(c.get("decoder_input_channels", 64)),
            int(c.get("sampling_rate", 44100)),
            math.prod(int(r) for r in c.get("downsampling_ratios", [2, 4, 4, 8, 8])),
            int(c.get("audio_channels", 2)),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise SamuelError(f"{cfg.path}: unreadable Oobleck config values ({exc})") from None


def vae_fields(cfg: CodecConfig) -> LatentFields:
    """A trained VAE as its checkpoint's saved config describes it."""
    from samuel_pl.codecs.vae import architecture, read_checkpoint

    config, _ = read_checkpoint(cfg.path)
    arch = architecture(config["vae"], config["data"]["channels"])
    rate = int(config["data"]["sample_rate"])
    return LatentFields(cfg.type, arch.latent_dim, rate, arch.hop_length, arch.audio_channels)


def band_centres(f_min: float, semitones: int, f_max: float) -> np.ndarray:
    """The pitched codec's channel centres (M,) in Hz: ``semitones`` from ``f_min``, then
    1/6-octave steps below ``f_max``."""
    low = f_min * SEMITONE ** np.arange(semitones)
    top = low[-1]
    n_up = int(math.floor(UPPER_BANDS_PER_OCTAVE * math.log2(f_max / top) - 1e-9))
    up = top * 2.0 ** (np.arange(1, max(n_up, 0) + 1) / UPPER_BANDS_PER_OCTAVE)
    return np.concatenate([low, up])


def pitched_identity(cfg: CodecConfig) -> dict[str, Any]:
    """The values that change the pitched codec's latents (its ``latent_fields()``), pure."""
    nyq = cfg.sample_rate / 2.0
    return {
        "version": PITCHED_CODEC_VERSION,
        "sample_rate": int(cfg.sample_rate),
        "n_mels": int(cfg.n_mels),
        "n_fft": int(cfg.n_fft),
        "hop_length": int(cfg.hop_length),
        "f_min": float(cfg.f_min),
        "f_max": float(cfg.f_max) if cfg.f_max and cfg.f_max > 0 else nyq,
    }


def pitched_fields(cfg: CodecConfig) -> LatentFields:
    """Semitone channels plus the wider bands above them up to ``f_max`` (pure)."""
    f_max = pitched_identity(cfg)["f_max"]
    channels = len(band_centres(float(cfg.f_min), int(cfg.n_mels), f_max))
    return LatentFields(cfg.type, channels, int(cfg.sample_rate), int(cfg.hop_length), 1)


def codec_identity(cfg: CodecConfig) -> dict[str, Any]:
    """What a vocoder must match of the codec ``cfg`` (mel or pitched); SamuelError otherwise."""
    if cfg.type == "mel":
        return mel_identity(cfg)
    if cfg.type == "pitched":
        return pitched_identity(cfg)
    raise SamuelError(f"a vocoder decodes the mel or pitched codec, not {cfg.type}")


FieldsReader = Callable[[CodecConfig], LatentFields]
READERS: dict[str, FieldsReader] = {
    "mel": mel_fields,
    "pitched": pitched_fields,
    "stable_audio": stable_audio_fields,
    "vae": vae_fields,
}
"""Per codec type, how to read :class:`LatentFields` from its config (the registry falls back
to building the codec for types without one)."""
