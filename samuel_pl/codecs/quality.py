"""Reconstruction quality of a latent codec: encode -> decode, scored against the input.

* MR-STFT distance: auraloss' multi-resolution STFT loss at its default resolutions (FFT 1024,
  2048, 512; hops 120, 240, 50; windows 600, 1200, 240): spectral convergence + mean absolute
  log-magnitude difference, averaged over resolutions. Lower is better; 0 is identical.
* SI-SDR (dB, torchmetrics, ``zero_mean=False``): scale-invariant signal-to-distortion ratio of
  the waveform. Higher is better; it needs the phase right, which a mel codec with Griffin-Lim
  does not recover.

Both are computed at the reference's sample rate and channel count (the decoded audio is
resampled / channel-averaged to it) over the common length of input and reconstruction.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

from samuel_pl.codecs.base import LatentCodec, resample
from samuel_pl.nn.stft_loss import MRSTFTDistance

_DISTANCE: MRSTFTDistance | None = None


def _match(audio: torch.Tensor, channels: int) -> torch.Tensor:
    """(1, C, N) -> (1, channels, N): average, or repeat a mono signal."""
    if audio.shape[1] == channels:
        return audio
    mono = audio.mean(dim=1, keepdim=True)
    return mono.expand(-1, channels, -1)


@torch.no_grad()
def reconstruction_metrics(
    codec: LatentCodec, audio: np.ndarray | torch.Tensor, sample_rate: int
) -> dict[str, Any]:
    """Encode and decode ``audio`` (C, N) at ``sample_rate``; return MR-STFT distance, SI-SDR,
    seconds scored and the encode / decode wall times."""
    global _DISTANCE
    if _DISTANCE is None:
        _DISTANCE = MRSTFTDistance()
    ref = torch.as_tensor(np.asarray(audio, dtype=np.float32))[None]  # (1, C, N)
    t0 = time.perf_counter()
    z = codec.encode(ref, sample_rate)  # (1, L, T)
    t1 = time.perf_counter()
    out = codec.decode(z).float().cpu()  # (1, C', N') at the codec's rate
    t2 = time.perf_counter()
    out = _match(resample(out, codec.sample_rate, sample_rate), ref.shape[1])
    n = min(out.shape[-1], ref.shape[-1])
    est, tgt = out[..., :n], ref[..., :n]
    return {
        "mrstft": float(_DISTANCE(est, tgt)[0]),
        "si_sdr_db": float(scale_invariant_signal_distortion_ratio(est, tgt).mean()),
        "seconds": n / sample_rate,
        "encode_s": t1 - t0,
        "decode_s": t2 - t1,
        "latent_shape": list(z.shape[1:]),
    }
