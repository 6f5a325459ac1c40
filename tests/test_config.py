"""Config schema, loader errors and every shipped YAML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from samuel_pl.config import ConfigError, FitConfig, load_config, to_yaml

REPO = Path(__file__).resolve().parents[1]
# Sweep files have their own schema (tests/sweep/test_sweep_spec.py validates every one).
YAMLS = sorted(p for p in (REPO / "experiments").rglob("*.yaml") if "sweeps" not in p.parts)


def test_there_are_experiment_configs() -> None:
    names = {p.name for p in YAMLS}
    assert {"debug.yaml", "demo.yaml", "paper.yaml"} <= names


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.name)
def test_every_experiment_yaml_validates(path: Path) -> None:
    cfg = load_config(path)
    assert isinstance(cfg, FitConfig)


SUITES = sorted((REPO / "evaluation" / "suites").glob("*.yaml"))


def test_there_are_evaluation_suites() -> None:
    assert {"demo.yaml", "debug.yaml"} <= {p.name for p in SUITES}


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.name)
def test_every_evaluation_suite_validates(path: Path) -> None:
    from samuel_pl.config.suite import SuiteConfig

    suite = load_config(path, schema=SuiteConfig)
    assert isinstance(suite, SuiteConfig) and suite.generators


def test_every_evaluation_yaml_is_a_mapping() -> None:
    import yaml

    for path in sorted((REPO / "evaluation").rglob("*.yaml")):
        assert isinstance(yaml.safe_load(path.read_text()), dict), path


def test_overrides_are_typed_and_applied() -> None:
    cfg = load_config(None, ["model.window=32", "data.validation_songs=[a,b]", "optim.lr=1e-3"])
    assert cfg.model.window == 32
    assert cfg.data.validation_songs == ["a", "b"]
    assert cfg.optim.lr == pytest.approx(1e-3)


def test_unknown_key_names_key_and_valid_keys() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, ["model.windw=3"])
    msg = str(err.value)
    assert "model.windw" in msg and "window" in msg and "heads" in msg


def test_unknown_key_in_yaml_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("data:\n  sample_rat: 16000\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert "data.sample_rat" in str(err.value) and "sample_rate" in str(err.value)
    assert str(p) in str(err.value)


def test_wrong_type_names_key_value_and_type() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, ["trainer.max_steps=lots"])
    msg = str(err.value)
    assert "trainer.max_steps" in msg and "lots" in msg and "int" in msg


def test_malformed_override_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["model.window"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_print_config_round_trips() -> None:
    cfg = load_config(REPO / "experiments" / "demo.yaml")
    import yaml

    again = load_config(None, [f"{k}={v}" for k, v in _flat(yaml.safe_load(to_yaml(cfg))).items()])
    assert again == cfg


def _flat(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = "[" + ",".join(map(str, v)) + "]" if isinstance(v, list) else v
    return {k: ("''" if v == "" else v) for k, v in out.items()}


def test_cli_bogus_key_is_one_line_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "samuel_pl.fit"]
        + ["--config", "experiments/debug.yaml", "bogus_key=1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "bogus_key" in lines[0] and "model" in lines[0] and "trainer" in lines[0]
    assert "Traceback" not in proc.stderr


DEBUG = REPO / "experiments" / "debug.yaml"
# (key, bad value, a word of what the message must list as allowed)
BAD_VALUES = [
    ("sampling.sampler", "dpmp", "ancestral | ddim | dpmpp"),
    ("sampling.spacing", "logsnr", "uniform | log_snr | karras"),
    ("codec.type", "mell", "mel | pitched | stable_audio | vae"),
    ("model.mix_schedule", "foo", "alpha_bar"),
    ("diffusion.loss_weight", "bar", "min_snr"),
    ("trainer.max_steps", "-5", "-1 or a finite number >= 1"),
    ("model.window", "0", ">= 1"),
    ("optim.lr", "nan", "> 0"),
    ("data.batch_size", "0", ">= 1"),
    ("model.heads", "3", "even head width"),
    ("data.crop_frames", "33", "multiple of 2"),
    ("codec.scale", "bark", "mel | log"),
    ("data.pitch_shift", "-1", ">= 0"),
    ("data.pitch_shift", "3", "codec.scale=log"),  # the debug config's codec is the mel scale
    ("model.interval_span", "4", "odd number"),
    ("model.interval_features", "2", "channels are semitones"),  # mel scale: not semitones
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_bad_value_error_names_key_value_and_allowed(key: str, value: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(DEBUG, [f"{key}={value}"])
    msg = str(err.value)
    assert "\n" not in msg and allowed in msg, msg
    assert f"{key}={value!r}" in msg or f"{key}={value}" in msg, msg


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_fit_refuses_a_bad_value_before_creating_anything(
    debug_overrides: list[str], tmp_path: Path, capsys, key: str, value: str, allowed: str
) -> None:
    from samuel_pl.cli.main import main

    assert main(["fit", "--config", str(DEBUG), *debug_overrides, f"{key}={value}"]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and key in lines[0] and allowed in lines[0], lines
    assert list(tmp_path.iterdir()) == []  # no run folder, config.yaml, latent cache, mlruns.db


def test_fit_validates_a_config_built_in_code(tmp_path: Path) -> None:
    from samuel_pl.training import fit

    cfg = load_config(DEBUG, [f"run.dir={tmp_path / 'run'}"])
    cfg.sampling.sampler = "dpmp"
    with pytest.raises(ConfigError, match="sampling.sampler='dpmp'"):
        fit(cfg)
    assert list(tmp_path.iterdir()) == []


def test_every_problem_is_named_on_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(DEBUG, ["model.window=0", "data.batch_size=0"])
    msg = str(err.value)
    assert "model.window=0" in msg and "data.batch_size=0" in msg and "\n" not in msg


def test_suite_generators_are_validated() -> None:
    from samuel_pl.config.suite import SuiteConfig

    with pytest.raises(ConfigError, match=r"generators\[0\].spacing='linear'"):
        load_config(None, ["generators=[{type: samuel, spacing: linear}]"], schema=SuiteConfig)
    with pytest.raises(ConfigError, match=r"generators=\[\]; allowed: at least one generator"):
        load_config(None, ["generators=[]"], schema=SuiteConfig)


def test_rules_name_real_fields_and_choices_match_registries() -> None:
    import dataclasses

    from samuel_pl.codecs import codec_types
    from samuel_pl.config import SamplingConfig
    from samuel_pl.config.checks import CODEC_TYPE, DATA_SOURCE
    from samuel_pl.config.validate import RULES
    from samuel_pl.data.sources import SOURCES

    for cls, rules in RULES.items():
        assert set(rules) <= {f.name for f in dataclasses.fields(cls)}, cls
    sampling = {f.name: f.metadata.get("check") for f in dataclasses.fields(SamplingConfig)}
    assert RULES[SamplingConfig] == {k: v for k, v in sampling.items() if v}  # beside the fields
    assert set(RULES[SamplingConfig]) == {
        "sampler",
        "steps",
        "cfg",
        "eta",
        "spacing",
        "window",
        "spectral_prior",
        "spectral_prior_max_noise",
    }
    # the config asks the registries for their names
    assert {"mel", "stable_audio", "vae"} <= set(codec_types())
    assert CODEC_TYPE("mle") == " | ".join(codec_types()) and CODEC_TYPE("vae") is None
    assert DATA_SOURCE("web") == " | ".join(SOURCES) and DATA_SOURCE("musdb") is None


def test_model_in_channels_default_follows_the_codec() -> None:
    from samuel_pl.errors import SamuelError
    from samuel_pl.lit import LitSamuel
    from samuel_pl.training import resolve_in_channels

    cfg = load_config(DEBUG, ["codec.n_mels=8"])
    assert cfg.model.in_channels == 0  # not set: the codec decides, through the training job
    with pytest.raises(SamuelError, match=r"model.in_channels=0: resolve it"):
        LitSamuel(cfg)  # the module never builds a codec itself
    module = LitSamuel(resolve_in_channels(cfg))
    assert cfg.model.in_channels == 0  # resolved on a copy
    assert module.cfg.model.in_channels == 8 == module.latent_mean.numel()
    assert module.hparams["config"]["model"]["in_channels"] == 8  # saved resolved
    assert module.model.in_x.in_channels == 8
