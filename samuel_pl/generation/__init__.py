"""Generation: checkpoint + codec + sampler -> accompaniment audio for vocals of any length."""

from samuel_pl.generation.accompanist import Accompanist, Generation, SilentVocalsWarning
from samuel_pl.generation.batch import list_inputs, plan_batch
from samuel_pl.generation.device import STAGES, StageHook, resolve_device
from samuel_pl.generation.output_gain import mix_tracks, safe_peak
from samuel_pl.generation.planning import Windowing, frames_needed
from samuel_pl.generation.windows import (
    WindowPlan,
    known_weight,
    plan_windows,
    sample_windows,
)

__all__ = [
    "STAGES",
    "Accompanist",
    "Generation",
    "SilentVocalsWarning",
    "StageHook",
    "WindowPlan",
    "Windowing",
    "frames_needed",
    "known_weight",
    "list_inputs",
    "mix_tracks",
    "plan_batch",
    "plan_windows",
    "resolve_device",
    "safe_peak",
    "sample_windows",
]
