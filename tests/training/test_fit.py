"""The training job end to end on the debug config and a 3-song demo render."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from samuel_pl.cli.main import main
from samuel_pl.config import load_config, to_dict
from tests.conftest import DEBUG_YAML


def _fit(overrides: list[str]) -> int:
    return main(["fit", "--config", str(DEBUG_YAML), *overrides])


def test_fast_dev_run_of_lit_module(debug_overrides: list[str]) -> None:
    import lightning.pytorch as pl

    from samuel_pl.data.datamodule import SamuelDataModule
    from samuel_pl.lit import LitSamuel
    from samuel_pl.training import resolve_in_channels

    cfg = load_config(DEBUG_YAML, debug_overrides)
    dm = SamuelDataModule(cfg)
    dm.prepare_data()
    dm.setup("fit")
    module = LitSamuel(to_dict(resolve_in_channels(cfg)))
    module.set_normalization(*dm.stats)
    before = [p.detach().clone() for p in module.model.parameters()]
    trainer = pl.Trainer(fast_dev_run=True, logger=False, enable_progress_bar=False)
    trainer.fit(module, datamodule=dm)
    after = list(module.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after)), "no parameter changed"
    assert torch.isfinite(trainer.callback_metrics["train/loss"])


def test_fit_cli_logs_run_to_mlflow(debug_overrides: list[str], tmp_path: Path, capsys) -> None:
    from mlflow.tracking import MlflowClient

    assert _fit(debug_overrides) == 0
    printed = capsys.readouterr().out
    run_dir = tmp_path / "run"
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["global_step"] == 4
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}")
    run = client.get_run(summary["mlflow_run_id"])
    # The run's page in the MLflow UI, and how to serve that UI for a sqlite store.
    url = f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    assert summary["mlflow_url"] == url and f"open the results: {url}" in printed
    assert f"mlflow ui --backend-store-uri sqlite:///{tmp_path / 'mlruns.db'}" in printed
    assert run.data.params["model.window"] == "4"
    assert run.data.tags["codec_id"].startswith("mel")
    assert len(run.data.tags["git_commit"]) >= 7
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert len(history) >= 2
    assert client.get_metric_history(run.info.run_id, "val/loss")

    def walk(path: str = "") -> list[str]:
        out = []
        for f in client.list_artifacts(run.info.run_id, path):
            out += walk(f.path) if f.is_dir else [f.path]
        return out

    files = walk()
    assert any(f.endswith("_generated.wav") for f in files), files
    assert any(f.endswith(".png") for f in files), files
    assert any(f.endswith(".ckpt") for f in files), files
    wav = next(Path(p) for p in summary["samples"] if p.endswith("_generated.wav"))
    import soundfile as sf

    audio, _ = sf.read(wav)
    assert audio.size and abs(audio).max() > 1e-4 and not (audio != audio).any()


def test_resume_auto_continues_step_and_mlflow_run(
    debug_overrides: list[str], tmp_path: Path
) -> None:
    quick = ["callbacks.num_sample_songs=0", "tracking.log_checkpoints=false"]
    assert _fit([*debug_overrides, *quick, "trainer.max_steps=2"]) == 0
    first = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert first["global_step"] == 2
    assert _fit([*debug_overrides, *quick, "trainer.max_steps=4", "resume=auto"]) == 0
    second = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert second["global_step"] == 4
    assert second["steps_this_session"] == 2
    assert second["mlflow_run_id"] == first["mlflow_run_id"]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}")
    steps = [m.step for m in client.get_metric_history(first["mlflow_run_id"], "train/loss")]
    assert max(steps) >= 3 and min(steps) <= 1
    assert client.get_run(first["mlflow_run_id"]).data.tags["resumed_with.trainer.max_steps"]


def test_load_from_checkpoint_restores_ema_and_stats(
    debug_overrides: list[str], tmp_path: Path
) -> None:
    from samuel_pl.lit import LitSamuel

    quick = ["callbacks.num_sample_songs=0", "tracking.enabled=false"]
    assert _fit([*debug_overrides, *quick]) == 0
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)
    restored = LitSamuel.from_checkpoint(ckpt)  # the package's one loader (weights-only)
    sd = raw["state_dict"]
    assert torch.equal(restored.latent_mean, sd["latent_mean"])
    assert torch.equal(restored.latent_std, sd["latent_std"])
    assert not torch.allclose(restored.latent_std, torch.ones_like(restored.latent_std))
    ema_keys = [k for k in sd if k.startswith("ema.module.")]
    assert ema_keys
    for k in ema_keys:
        assert torch.equal(restored.state_dict()[k], sd[k])
    # EMA and online weights differ after training, so the EMA copy is really its own state.
    k = ema_keys[-1]
    assert not torch.equal(sd[k], sd[k.replace("ema.module.", "model.")])


def test_mismatched_channels_is_a_clear_error(debug_overrides: list[str], capsys) -> None:
    assert _fit([*debug_overrides, "model.in_channels=8"]) != 0
    err = capsys.readouterr().err
    assert "model.in_channels=8" in err and "16" in err


def test_a_trainer_lightning_refuses_ends_the_mlflow_run_failed(
    debug_overrides: list[str], tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    assert _fit([*debug_overrides, "trainer.strategy=not-a-strategy"]) != 0
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}")
    runs = client.search_runs([client.get_experiment_by_name("samuel").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_in_channels_follow_the_codec_through_fit(debug_overrides: list[str], tmp_path: Path):
    quick = ["callbacks.num_sample_songs=0", "tracking.enabled=false", "trainer.max_steps=1"]
    assert _fit([*debug_overrides, *quick, "codec.n_mels=8"]) == 0
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["hyper_parameters"]["config"]["model"]["in_channels"] == 8
    assert ckpt["state_dict"]["latent_mean"].numel() == 8


@pytest.mark.slow
def test_fit_logs_to_a_real_mlflow_server(debug_overrides: list[str], tmp_path: Path) -> None:
    from tests.mlflow_server import running_server

    with running_server(tmp_path) as uri:
        overrides = [o for o in debug_overrides if not o.startswith("tracking.uri")]
        quick = ["callbacks.num_sample_songs=0", "tracking.log_checkpoints=false"]
        assert _fit([*overrides, *quick, f"tracking.uri={uri}"]) == 0
        summary = json.loads((tmp_path / "run" / "summary.json").read_text())
        from mlflow.tracking import MlflowClient

        run = MlflowClient(uri).get_run(summary["mlflow_run_id"])
        assert run.info.status == "FINISHED"
        page = f"#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
        assert summary["mlflow_url"] == f"{uri}/{page}" and summary["mlflow_ui"] == ""
        assert run.data.metrics["train/loss"] > 0
