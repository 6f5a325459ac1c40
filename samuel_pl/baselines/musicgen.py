"""MusicGen-melody conditioned on the vocal's chroma (Copet et al. 2023, "Simple and Controllable
Music Generation"), through ``transformers`` (a local Hugging Face folder) or ``audiocraft``.

Weights are never downloaded at run time. Get ``facebook/musicgen-melody`` from the Hugging Face
hub on a machine with internet (``huggingface-cli download facebook/musicgen-melody --local-dir
models/musicgen-melody``) and copy the folder here. For tests and smoke runs, make a tiny model
with RANDOM weights (its audio is noise-like, only the plumbing is real)::

    python -m samuel_pl.baselines.musicgen --make-tiny-random models/musicgen-melody-tiny-random

Backends:
- ``transformers``: ``MusicgenMelodyForConditionalGeneration`` + the folder's T5 tokenizer.
  The melody chroma is made by ``MusicgenMelodyFeatureExtractor`` where torchaudio imports; the
  CPU torch wheel here has no torchaudio, so :func:`melody_chroma` computes the same features
  (hann STFT power, chroma filter bank, argmax one-hot per frame) with ``torch.stft``.
- ``audiocraft``: ``MusicGen.generate_with_chroma``, used only where ``audiocraft`` imports.
  It pins an old torch and does not install beside this project's torch: install it in its own
  environment (``pip install audiocraft``) and point ``path`` at a local checkpoint folder.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from samuel_pl.audio import resample
from samuel_pl.baselines.base import fit_length
from samuel_pl.errors import SamuelError

DEFAULT_PROMPT = "instrumental accompaniment"
HUB_ID = "facebook/musicgen-melody"
EXTRA = "pip install samuel_pl[baselines]"
# Keys of MusicgenMelodyFeatureExtractor (facebook/musicgen-melody's preprocessor_config.json).
# GeneratorConfig fields passed to MusicgenMelodyGenerator as keywords.
MUSICGEN_KEYS = ("prompt", "guidance_scale", "max_seconds", "max_new_tokens", "backend")
FEATURE_DEFAULTS = {"sampling_rate": 32000, "n_fft": 16384, "hop_length": 4096, "num_chroma": 12}


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as e:
        raise SamuelError(f"MusicGen-melody needs transformers: {EXTRA}") from e
    return transformers


def _torchaudio_ok() -> bool:
    try:
        import torchaudio  # noqa: F401
    except Exception:  # CUDA-only wheels raise OSError, not ImportError
        return False
    return True


def melody_chroma(
    wav: np.ndarray, sample_rate: int, n_fft: int, hop_length: int, num_chroma: int = 12
) -> Any:
    """MusicGen-melody chroma of a mono ``(N,)`` signal: one-hot ``(1, T, num_chroma)`` tensor.

    Same steps as ``MusicgenMelodyFeatureExtractor`` (centred hann STFT power, chroma filter
    bank, max-normalise, argmax per frame), with ``torch.stft`` in place of torchaudio.
    """
    import torch
    from transformers.audio_utils import chroma_filter_bank

    x = torch.as_tensor(np.asarray(wav, np.float32)).reshape(1, -1)  # (1, N)
    if x.shape[1] < n_fft:
        pad = n_fft - x.shape[1]
        x = torch.nn.functional.pad(x, (pad // 2, pad - pad // 2))
    window = torch.hann_window(n_fft)
    spec = torch.stft(
        x, n_fft, hop_length, n_fft, window, center=True, pad_mode="reflect", return_complex=True
    )
    power = spec.abs() ** 2 / window.pow(2).sum()  # (1, F, T), torchaudio's "normalized"
    filters = torch.from_numpy(
        chroma_filter_bank(
            sampling_rate=sample_rate, num_frequency_bins=n_fft, tuning=0, num_chroma=num_chroma
        )
    ).float()  # (C, F)
    chroma = torch.einsum("cf,bft->bct", filters, power)
    chroma = torch.nn.functional.normalize(chroma, p=float("inf"), dim=-2, eps=1e-6)
    chroma = chroma.transpose(1, 2)  # (1, T, C)
    onehot = torch.zeros_like(chroma)
    onehot.scatter_(-1, chroma.argmax(-1, keepdim=True), 1.0)
    return onehot


class MusicgenMelodyGenerator:
    """MusicGen-melody accompaniment for a vocal: the vocal's chroma is the melody condition.

    Vocals longer than ``max_seconds`` (the model's 30 s chroma window) are generated in
    consecutive windows, each conditioned on its own stretch of the vocal, then concatenated.
    Output: mono ``(1, N)`` resampled to the evaluation rate and fitted to the vocal's length.
    """

    def __init__(
        self,
        path: str,
        prompt: str = DEFAULT_PROMPT,
        guidance_scale: float = 3.0,
        max_seconds: float = 30.0,
        max_new_tokens: int = 0,
        backend: str = "transformers",
        seed: int = 0,
        name: str = "",
    ) -> None:
        if backend not in ("transformers", "audiocraft"):
            raise SamuelError(f"musicgen backend {backend!r}: choose transformers or audiocraft")
        self.path = Path(path) if path else Path("models/musicgen-melody")
        self.prompt, self.guidance_scale = prompt, guidance_scale
        self.max_seconds, self.max_new_tokens = max_seconds, max_new_tokens
        self.backend, self.seed = backend, seed
        self.name = name or "musicgen-melody"
        self._model: Any = None
        self._tokenizer: Any = None
        self._extractor: Any = None
        self._features = dict(FEATURE_DEFAULTS)

    @property
    def cache_key(self) -> str:
        files = sorted(self.path.glob("*")) if self.path.is_dir() else []
        stamp = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]
        settings = (self.prompt, self.guidance_scale, self.max_seconds, self.max_new_tokens)
        return f"{self.name}:{self.backend}:{self.path.resolve()}:{settings}:{self.seed}:{stamp}"

    def available(self) -> tuple[bool, str]:
        how = (
            f"download {HUB_ID} from the Hugging Face hub elsewhere (huggingface-cli download "
            f"{HUB_ID} --local-dir {self.path}) and copy the folder here"
        )
        if self.backend == "audiocraft":
            try:
                import audiocraft  # noqa: F401
            except ImportError:
                return False, (
                    "audiocraft is not importable (it pins an old torch and does not install "
                    "beside this project's torch); use backend=transformers"
                )
            return True, ""
        if not (self.path / "config.json").is_file():
            return False, f"{self.path}: no MusicGen-melody model folder (config.json); {how}"
        try:
            import transformers  # noqa: F401
        except ImportError:
            return False, f"transformers is not installed: {EXTRA}"
        return True, ""

    @property
    def parameters(self) -> int | None:
        if not self.available()[0]:
            return None
        model = self._load()
        return sum(p.numel() for p in model.parameters())

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        if self.backend == "audiocraft":
            from audiocraft.models import MusicGen

            self._model = MusicGen.get_pretrained(str(self.path))
            self._model.set_generation_params(cfg_coef=self.guidance_scale)
            return self._model.lm
        tf = _import_transformers()
        model = tf.MusicgenMelodyForConditionalGeneration.from_pretrained(str(self.path))
        self._model = model.eval()
        self._tokenizer = tf.AutoTokenizer.from_pretrained(str(self.path))
        pre = self.path / "preprocessor_config.json"
        if pre.is_file():
            cfg = json.loads(pre.read_text())
            self._features.update({k: cfg[k] for k in FEATURE_DEFAULTS if k in cfg})
        if _torchaudio_ok():
            self._extractor = tf.MusicgenMelodyFeatureExtractor.from_pretrained(str(self.path))
        return self._model

    @property
    def model_sample_rate(self) -> int:
        """Rate of the model's EnCodec (32 kHz for facebook/musicgen-melody)."""
        model = self._load()
        if self.backend == "audiocraft":
            return int(self._model.sample_rate)
        return int(model.config.audio_encoder.sampling_rate)

    def _window(self, wav: np.ndarray, sr: int) -> np.ndarray:
        """Accompaniment ``(M,)`` at ``sr`` for one vocal window ``(N,)`` at the model rate."""
        import torch

        model, seconds = self._load(), len(wav) / sr
        if self.backend == "audiocraft":
            self._model.set_generation_params(duration=seconds, cfg_coef=self.guidance_scale)
            melody = torch.from_numpy(wav).reshape(1, 1, -1)  # (B, C, N)
            out = self._model.generate_with_chroma([self.prompt], melody, sr)
            return out[0].mean(0).cpu().numpy()
        if self._extractor is not None:
            feats = self._extractor(wav, sampling_rate=sr, return_tensors="pt")["input_features"]
        else:
            f = self._features
            feats = melody_chroma(wav, sr, f["n_fft"], f["hop_length"], f["num_chroma"])
        text = self._tokenizer([self.prompt], return_tensors="pt")
        frame_rate = model.config.audio_encoder.frame_rate
        # The decoder's delay pattern costs num_codebooks - 1 steps before the first full frame.
        tokens = math.ceil(seconds * frame_rate) + model.decoder.num_codebooks - 1
        if self.max_new_tokens > 0:
            tokens = min(tokens, self.max_new_tokens)
        torch.manual_seed(self.seed)
        with torch.no_grad():
            out = model.generate(
                input_ids=text["input_ids"],
                attention_mask=text["attention_mask"],
                input_features=feats.to(model.dtype),
                max_new_tokens=tokens,
                do_sample=True,
                guidance_scale=self.guidance_scale,
            )  # (1, C, M)
        return out[0].float().mean(0).cpu().numpy()

    def generate(self, vocals: np.ndarray, sample_rate: int, song_id: str) -> np.ndarray:
        """vocals ``(C, N)`` at ``sample_rate`` -> accompaniment ``(1, N)`` at the same rate."""
        n = vocals.shape[-1]
        mono = np.asarray(vocals, np.float32).reshape(-1, n).mean(0, keepdims=True)  # (1, N)
        sr = self.model_sample_rate
        wav = resample(mono, sample_rate, sr)[0]  # (N',)
        step = max(1, int(self.max_seconds * sr))
        parts = [fit_length(self._window(wav[i : i + step], sr), len(wav[i : i + step]))[0]
                 for i in range(0, len(wav), step)]  # fmt: skip
        out = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return fit_length(resample(out[None], sr, sample_rate), n)


def make_tiny_random(folder: str | Path, seed: int = 0) -> Path:
    """Save a tiny MusicGen-melody with RANDOM weights (T5 + EnCodec + decoder, ~16k params),
    its T5 tokenizer and feature-extractor config to ``folder``, in Hugging Face format."""
    import torch

    tf = _import_transformers()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = ["instrumental", "accompaniment", "piano", "strings", "guitar", "drums", "music"]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [("\u2581" + w, -1.0 - i) for i, w in enumerate(words)]
    vocab += [("\u2581", -5.0)] + [(c, -10.0) for c in "abcdefghijklmnopqrstuvwxyz"]
    tokenizer = tf.T5Tokenizer(vocab=vocab, extra_ids=0)
    text = tf.T5Config(
        vocab_size=len(tokenizer), d_model=16, d_kv=4, d_ff=32, num_layers=1,
        num_decoder_layers=1, num_heads=2,
    )  # fmt: skip
    sr, hop = 8000, 256
    codec = tf.EncodecConfig(
        sampling_rate=sr, audio_channels=1, num_filters=4, upsampling_ratios=[8, 8, 4],
        codebook_size=32, codebook_dim=8, hidden_size=8, num_lstm_layers=1,
        num_residual_layers=1, target_bandwidths=[0.4],
    )  # fmt: skip  # 32 frames/s, 2 codebooks of 5 bits
    decoder = tf.MusicgenMelodyDecoderConfig(
        vocab_size=32, max_position_embeddings=1024, num_hidden_layers=1, ffn_dim=32,
        num_attention_heads=2, hidden_size=16, num_codebooks=codec.num_quantizers,
        pad_token_id=32, bos_token_id=32,
    )  # fmt: skip
    config = tf.MusicgenMelodyConfig(
        text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict(),
        chroma_length=235,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = tf.MusicgenMelodyForConditionalGeneration(config)
    with torch.no_grad():  # EnCodec codebooks start as zeros: every code would decode alike
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
            layer.codebook.embed_avg.copy_(layer.codebook.embed)
    model.generation_config.decoder_start_token_id = 32
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    features = {
        "feature_extractor_type": "MusicgenMelodyFeatureExtractor",
        "processor_class": "MusicgenMelodyProcessor",
        "feature_size": 12, "sampling_rate": sr, "hop_length": hop, "n_fft": 1024,
        "chunk_length": 30, "num_chroma": 12, "padding_side": "left", "padding_value": 0.0,
        "return_attention_mask": False, "stem_indices": [3, 2],
    }  # fmt: skip
    (folder / "preprocessor_config.json").write_text(json.dumps(features, indent=2) + "\n")
    (folder / "README.md").write_text(
        "# musicgen-melody-tiny-random\n\nRANDOM weights (samuel_pl.baselines.musicgen."
        "make_tiny_random): tests the loading and generation code only; its audio means "
        "nothing.\n"
    )
    return folder


def main(argv: list[str] | None = None) -> int:
    """``python -m samuel_pl.baselines.musicgen --make-tiny-random DIR``."""
    parser = argparse.ArgumentParser(prog="python -m samuel_pl.baselines.musicgen")
    parser.add_argument("--make-tiny-random", metavar="DIR", required=True,
                        help="write a tiny MusicGen-melody with random weights to DIR")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(make_tiny_random(args.make_tiny_random, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
