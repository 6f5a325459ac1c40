"""The evaluate command on a debug checkpoint and the 3-song demo render."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from samuel_pl.cli.main import main
from samuel_pl.tracking import git_commit
from tests.conftest import REPO
from tests.reliability.hostile import CHECKPOINTS, ids

SUITE = REPO / "evaluation" / "suites" / "debug.yaml"


def _suite_overrides(demo_root: Path, tmp_path: Path) -> list[str]:
    # The debug render has 2 train songs: enough for random pairing and a bootstrap.
    return [
        f"data.root={demo_root}",
        "split=train",
        f"tracking.uri=sqlite:///{tmp_path / 'eval.db'}",
    ]


def _trained_run(ckpt: Path, tmp_path: Path) -> tuple[Path, str]:
    """The checkpoint in a run folder whose mlflow_run.json names a training run in the
    evaluation's store (what `samuel fit` leaves)."""
    from mlflow.tracking import MlflowClient

    from samuel_pl.tracking import write_run_id

    uri = f"sqlite:///{tmp_path / 'eval.db'}"
    client = MlflowClient(uri)
    exp_id = client.create_experiment("samuel-train")
    run_id = client.create_run(exp_id, run_name="train").info.run_id
    run_dir = tmp_path / "runs" / "train-1"
    (run_dir / "checkpoints").mkdir(parents=True)
    shutil.copy(ckpt, run_dir / "checkpoints" / "last.ckpt")
    write_run_id(run_dir, run_id, uri, "samuel-train")
    return run_dir / "checkpoints" / "last.ckpt", run_id


def test_evaluate_writes_json_table_and_mlflow_run(
    debug_ckpt: Path, demo_root: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "eval"
    ckpt, train_id = _trained_run(debug_ckpt, tmp_path)
    args = ["evaluate", "--suite", str(SUITE), "--ckpt", str(ckpt), "--out", str(out)]
    assert main([*args, *_suite_overrides(demo_root, tmp_path)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "metrics.json").read_text())
    metrics = result["metrics"]
    samuel = next(k.split("/")[0] for k in metrics if k.startswith("samuel"))
    for gen in (samuel, "ground_truth", "random_pairing"):
        assert np.isfinite(metrics[f"{gen}/fd_mel"]), gen
        assert np.isfinite(metrics[f"{gen}/align_chroma_cosine"]), gen
        lo, hi = result["ci95"][f"{gen}/fd_mel"]
        assert lo <= hi
    # The ground truth is the reference set itself.
    assert metrics["ground_truth/fd_mel"] < 1e-6
    assert metrics[f"{samuel}/fd_mel"] > metrics["ground_truth/fd_mel"]
    assert metrics[f"{samuel}/params"] > 0 and metrics[f"{samuel}/rtf"] > 0
    table = (out / "table.md").read_text()
    assert "ground_truth" in table and "fd_mel" in table and "FD-mel" in table
    # spectrograms (vocal / generated / real) and audio players linked relative to the folder
    first = result["song_ids"][0]
    example = result["examples"][0]
    assert example["song"] == first
    assert list(example["clips"]) == ["vocal", samuel, "ground_truth", "random_pairing",
                                      "codec_round_trip", "real"]  # fmt: skip
    assert (out / example["picture"]).read_bytes().startswith(b"\x89PNG")
    assert f"![{first}]({example['picture']})" in table
    page = (out / "examples.html").read_text()
    players = re.findall(r'<audio controls src="([^"]+)"', page)
    assert players[: len(example["clips"])] == list(example["clips"].values())
    for src in players:
        assert not src.startswith(("data:", "/")) and (out / src).stat().st_size > 1000, src
    assert f"spectrograms and audio players: {out / 'examples.html'}" in printed

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'eval.db'}")
    exp = client.get_experiment_by_name("samuel-eval-debug")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    logged = run.data.metrics
    # Keys are <generator>/<metric>, with no dot inside the generator name (cfg1.5 -> cfg1_5).
    assert samuel == "samuel-ddim2-uniform-cfg1.5"
    assert "samuel-ddim2-uniform-cfg1_5/fd_mel" in logged
    assert all("." not in k.split("/")[0] for k in logged), sorted(logged)
    assert logged["ground_truth/fd_mel"] == pytest.approx(metrics["ground_truth/fd_mel"])
    # Bootstrap intervals are metrics too.
    lo, hi = result["ci95"]["random_pairing/fd_mel"]
    assert lo < hi
    assert logged["random_pairing/fd_mel_ci_low"] == pytest.approx(lo)
    assert logged["random_pairing/fd_mel_ci_high"] == pytest.approx(hi)
    # Linked to the training run of its checkpoint (and back), with the git commit.
    tags = run.data.tags
    assert tags["training_run_id"] == train_id and tags["mlflow.parentRunId"] == train_id
    assert client.get_run(train_id).data.tags["evaluation.debug"] == run.info.run_id
    assert tags["git_commit"] == git_commit() and tags["checkpoint"] == str(ckpt)
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "table.md"} <= names
    url = f"http://127.0.0.1:5000/#/experiments/{exp.experiment_id}/runs/{run.info.run_id}"
    assert f"open the results: {url}" in printed
    assert "mlflow ui --backend-store-uri sqlite:///" in printed


def test_evaluate_reuses_generated_audio(debug_ckpt: Path, demo_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    args = ["evaluate", "--suite", str(SUITE), "--ckpt", str(debug_ckpt), "--out", str(out)]
    args += ["--no-mlflow", *_suite_overrides(demo_root, tmp_path)]
    assert main(args) == 0
    wavs = sorted((out / "generated").rglob("*.wav"))
    assert wavs
    stamps = [p.stat().st_mtime_ns for p in wavs]
    first = json.loads((out / "metrics.json").read_text())["metrics"]
    assert main(args) == 0
    assert [p.stat().st_mtime_ns for p in wavs] == stamps
    again = json.loads((out / "metrics.json").read_text())["metrics"]
    assert again == first


def test_evaluate_without_checkpoint_for_samuel_is_a_clear_error(
    demo_root: Path, tmp_path: Path, capsys
) -> None:
    args = ["evaluate", "--suite", str(SUITE), "--out", str(tmp_path / "e"), "--no-mlflow"]
    assert main([*args, *_suite_overrides(demo_root, tmp_path)]) != 0
    assert "--ckpt" in capsys.readouterr().err


@pytest.mark.parametrize(
    "override,message",
    [
        ("clip_seconds=-2", "invalid clip_seconds=-2.0; allowed: a finite number > 0"),
        ("clip_seconds=nan", "invalid clip_seconds=nan; allowed: a finite number > 0"),
        ("sample_rate=1", "invalid sample_rate=1; allowed: a finite number >= 8000 and <= 384000"),
        ("bootstrap=-1", "invalid bootstrap=-1; allowed: a finite number >= 0"),
    ],
)
def test_bad_settings_fail_before_any_work(
    override: str, message: str, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "eval"
    args = ["evaluate", "--suite", str(SUITE), "--out", str(out), "--no-mlflow"]
    # The data root does not exist: the setting must be the first thing reported.
    assert main([*args, f"data.root={tmp_path / 'none'}", override]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists() and not (tmp_path / "none").exists()


@pytest.mark.parametrize("case", CHECKPOINTS, ids=ids(CHECKPOINTS))
def test_a_bad_checkpoint_leaves_no_output_folder(case, demo_root: Path, tmp_path: Path, capsys):
    ckpt = tmp_path / "model.ckpt"
    case.write(ckpt)
    out = tmp_path / "eval"
    args = ["evaluate", "--suite", str(SUITE), "--ckpt", str(ckpt), "--out", str(out)]
    assert main([*args, *_suite_overrides(demo_root, tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(re.escape(f"{ckpt}: ") + case.problem, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt"]


def test_alignment_ranks_true_pairs_above_random_pairing(demo_root: Path, tmp_path: Path) -> None:
    """On real rendered chorales the ground-truth accompaniment fits its vocal better than
    another song's accompaniment does (chroma and beat alignment)."""
    out = tmp_path / "eval"
    args = ["evaluate", "--suite", str(SUITE), "--out", str(out), "--no-mlflow"]
    gens = "generators=[{type: ground_truth},{type: random_pairing}]"
    assert main([*args, *_suite_overrides(demo_root, tmp_path), gens, "clip_seconds=8"]) == 0
    m = json.loads((out / "metrics.json").read_text())["metrics"]
    assert m["ground_truth/align_chroma_cosine"] > m["random_pairing/align_chroma_cosine"]
    assert m["ground_truth/align_mix_key_clarity"] > m["random_pairing/align_mix_key_clarity"]


def test_ground_truth_beats_every_control_on_rendered_songs(
    demo_root: Path, tmp_path: Path, capsys
) -> None:
    """Two rendered chorales, 8 s clips: the real accompaniment scores above each control on
    the harmonic metrics made to see through it, song by song."""
    out = tmp_path / "eval"
    args = ["evaluate", "--suite", str(SUITE), "--out", str(out), "--no-mlflow", "--validate"]
    gens = "generators=[{type: ground_truth}]"
    assert main([*args, *_suite_overrides(demo_root, tmp_path), gens, "clip_seconds=8"]) == 0
    result = json.loads((out / "metrics.json").read_text())
    assert result["controls"] == [
        "random_pairing", "control_pitch+1", "control_pitch+6", "control_vocal_copy",
        "control_tonic_triad", "control_lowpass", "control_griffin_lim",
    ]  # fmt: skip
    per_song, roles = result["per_song"], result["roles"]
    truth = per_song["ground_truth"]
    beats = {  # control -> metrics that must rank the ground truth first on every song
        "shuffled": ["consonance_share", "consonance_share_no_unison", "consonance_gain"],
        "pitch+1": ["consonance_share", "consonance_share_no_unison", "key_fit"],
        "pitch+6": ["consonance_share", "consonance_share_no_unison", "key_fit"],
        "vocal_copy": ["consonance_share_no_unison", "consonance_gain_no_unison"],
        "tonic_triad": ["consonance_gain", "consonance_gain_no_unison"],
        "lowpass": ["hf_share"],  # the energy above 4 kHz is what a 4 kHz low-pass removes
    }
    for role, metrics in beats.items():
        for m in metrics:
            t, c = np.asarray(truth[m]), np.asarray(per_song[roles[role]][m])
            assert len(t) == 2 and (t > c).all(), (role, m, t, c)
    checks = result["validation"]  # d of 2 songs is noise: only its shape is tested here
    assert set(checks) == set(truth) and all(len(c["d"]) == 7 for c in checks.values())
    table = (out / "table.md").read_text()
    assert "## validate" in table and "| consonance_share_no_unison | harmonic |" in table
    assert "validate: " in capsys.readouterr().out
