"""``codec_round_trip``: the real accompaniment encoded and decoded by a model's own codec and
decoder (its vocoder when it uses one, else Griffin-Lim). No sampler can beat it in that latent
space: it is the ceiling of every model that shares the codec and decoder.

The evaluation runner adds one row per distinct (codec, decoder) of the suite's SAMUeL rows
(:func:`round_trips_for`); a suite can also list ``type: codec_round_trip`` with a ``ckpt``
(and ``vocoder``) of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from samuel_pl.audio import resample
from samuel_pl.baselines.base import fit_length

ROUND_TRIP_VERSION = 1  # bump when the round trip's audio changes (clips are cached by it)


def decoder_label(codec: Any) -> str:
    """``vocoder`` when the codec decodes with a trained vocoder, else ``griffin-lim`` (the mel
    codec) or the codec's type (codecs with their own decoder: the VAE)."""
    if getattr(codec, "vocoder", None) is not None:
        return "vocoder"
    return "griffin-lim" if getattr(codec, "type_name", "") == "mel" else str(codec.type_name)


class CodecRoundTrip:
    """The song's real accompaniment through ``codec.encode`` then ``codec.decode``.

    Args:
        references: song id -> real accompaniment ``(1, N)`` at the suite's rate.
        codec: a :class:`samuel_pl.codecs.LatentCodec` (with its vocoder set, if any).
        name: the row name.
        source: what identifies the decoder's weights in the cache key (checkpoint path, size,
            mtime; the vocoder's too).
    """

    parameters = None

    def __init__(
        self, references: dict[str, np.ndarray], codec: Any, name: str = "", source: str = ""
    ) -> None:
        self.references, self.codec = references, codec
        self.name = name or "codec_round_trip"
        self.label = decoder_label(codec)
        self.cache_key = f"{self.name}:v{ROUND_TRIP_VERSION}:{codec.codec_id}:{self.label}:{source}"

    def available(self) -> tuple[bool, str]:
        return True, ""

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        import torch

        ref = fit_length(self.references[song_id], vocals.shape[-1])  # (1, N)
        rate = int(self.codec.sample_rate)
        device = next(iter(self.codec.buffers()), torch.zeros(())).device
        x = torch.from_numpy(np.ascontiguousarray(ref))[None].to(device)  # (1, 1, N)
        with torch.inference_mode():
            z = self.codec.encode(x, sample_rate)  # (1, latent, T)
            audio = self.codec.decode(z).float().cpu().numpy()[0]  # (C, N') at the codec rate
        audio = audio.mean(axis=0, keepdims=True)
        return fit_length(resample(audio, rate, sample_rate), vocals.shape[-1])


def round_trip_for(
    references: dict[str, np.ndarray], ckpt: str, vocoder: str = "", name: str = ""
) -> CodecRoundTrip:
    """The round trip through the codec (and decoder) of the SAMUeL checkpoint ``ckpt``;
    ``vocoder`` as :class:`samuel_pl.baselines.samuel.SamuelGenerator`'s ('': the
    checkpoint's; ``none``: Griffin-Lim)."""
    from samuel_pl.codecs.vocoder import weights_key
    from samuel_pl.generation import Accompanist

    acc = Accompanist.from_checkpoint(ckpt, vocoder=vocoder or None)
    decoder = getattr(acc.codec, "decoder_weights", "")  # "" for Griffin-Lim
    source = weights_key(ckpt) + (f":{decoder}" if decoder else "")
    return CodecRoundTrip(references, acc.codec, name, source)


def round_trips_for(references: dict[str, np.ndarray], generators: list) -> list[CodecRoundTrip]:
    """One round trip per distinct (codec, decoder) of the SAMUeL rows among ``generators``
    (sharing their loaded codec) that no listed ``CodecRoundTrip`` already covers. Named
    ``codec_round_trip``, or ``codec_round_trip-<decoder>`` when the rows use several."""
    listed = {(g.codec.codec_id, g.label) for g in generators if isinstance(g, CodecRoundTrip)}
    found: dict[tuple[str, str], Any] = {}
    for g in generators:
        acc = getattr(g, "accompanist", None)
        if acc is None:
            continue
        key = (acc.codec.codec_id, decoder_label(acc.codec))
        if key not in listed and key not in found:
            found[key] = g
    out = []
    for (_, label), g in found.items():
        name = "codec_round_trip" if len(found) == 1 else f"codec_round_trip-{label}"
        source = str(getattr(g, "cache_key", g.name)).split(":", 1)[-1]
        out.append(CodecRoundTrip(references, g.accompanist.codec, name, source))
    return out
