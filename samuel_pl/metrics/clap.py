"""LAION-CLAP audio embeddings (music checkpoint) for FAD-CLAP; optional extra ``laion_clap``."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from samuel_pl.errors import SamuelError
from samuel_pl.metrics.embedders import AudioEmbedder

MUSIC_CHECKPOINT = "music_audioset_epoch_15_esc_90.14.pt"
CHECKPOINT_URL = "https://huggingface.co/lukewys/laion_clap/resolve/main/" + MUSIC_CHECKPOINT


class ClapEmbedder(AudioEmbedder):
    """CLAP audio embeddings ``(B, N) 48 kHz -> (B, windows, 512)``, one per 10 s window.

    laion_clap randomly crops inputs longer than 10 s, so audio is cut into 10 s windows here
    (the last one zero-padded) and each window is embedded.

    Args:
        weights: path to the music checkpoint (``music_audioset_epoch_15_esc_90.14.pt``).
        amodel: audio tower of that checkpoint (HTSAT-base for the music checkpoints).
    """

    name = "clap"
    metric_name = "FAD-CLAP"
    sample_rate = 48000
    dim = 512
    window = 480000

    def __init__(self, weights: str | Path, amodel: str = "HTSAT-base") -> None:
        super().__init__()
        try:
            import laion_clap  # noqa: PLC0415 - optional extra, imported lazily
        except ImportError as exc:
            raise SamuelError(
                f"the clap embedder needs the optional package laion_clap ({exc}); "
                "install it with `pip install laion_clap`"
            ) from exc
        path = Path(weights).expanduser()
        if not path.is_file():
            raise SamuelError(
                f"CLAP checkpoint {path} not found; download {CHECKPOINT_URL} and pass its path"
            )
        self.model = laion_clap.CLAP_Module(enable_fusion=False, amodel=amodel)
        self.model.load_ckpt(str(path), verbose=False)
        self.model.eval()

    @torch.no_grad()
    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        b, n = audio.shape
        n_win = max(1, -(-n // self.window))
        x = nn.functional.pad(audio.float(), (0, n_win * self.window - n))
        x = x.reshape(b * n_win, self.window)  # (B * W, 480000)
        emb = self.model.get_audio_embedding_from_data(x=x, use_tensor=True)  # (B * W, 512)
        return emb.reshape(b, n_win, self.dim)
