"""Every hostile file through every command, each as its own process: the table of exit codes,
messages, peak RSS and files left behind (the evidence behind tests/reliability's assertions).

    python -m tests.reliability.hostile_table --out TABLE.md [--ckpt CKPT]

Without --ckpt a debug checkpoint is trained first (a minute). Each process runs with its
address space capped at 4 GB, so a regression shows as MemoryError, not as a machine out of
memory. Takes about 10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from tests.reliability.hostile import (
    AUDIO,
    CHECKPOINTS,
    AudioCase,
    Measured,
    error_lines,
    plain,
    run_measured,
)

REPO = Path(__file__).resolve().parents[2]
DEBUG = REPO / "experiments" / "debug.yaml"
SUITE = REPO / "evaluation" / "suites" / "debug.yaml"
CAP = 4 << 30
PLAIN = AudioCase("plain", "plain.wav", plain)
PY = [sys.executable, "-m", "samuel_pl"]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def _short(text: str, tmp: Path) -> str:
    text = text.replace(str(tmp), "<tmp>").replace("|", "/")
    return text if len(text) <= 170 else text[:167] + "..."


def _message(res: Measured) -> str:
    errors = error_lines(res.stderr)
    skipped = [ln for ln in res.stderr.splitlines() if ln.startswith("skipped ")]
    return (errors or skipped or [res.stdout.strip().splitlines()[-1] if res.stdout else ""])[-1]


def _song(root: Path, name: str, vocals: AudioCase) -> Path:
    PLAIN.make(root / name, "accompaniment.wav")
    return vocals.make(root / name, f"vocals{Path(vocals.filename).suffix}")


def audio_rows(case: AudioCase, ckpt: Path, work: Path, env: dict[str, str]) -> list[list[str]]:
    rows = []
    root = work / "songs"
    _song(root, "good", PLAIN)
    _song(root, "song", case)
    folder = ["data.source=folder", f"data.root={root}"]
    before = _files(root)
    report, cache, out, ev = work / "scan.jsonl", work / "cache", work / "out", work / "eval"
    vocals = root / "song" / f"vocals{Path(case.filename).suffix}"
    fast = ["--quiet", "--device", "cpu", "--sampler", "ddim", "--steps", "2"]
    suite = ["split=train", "data.val_fraction=0", "data.test_fraction=0", "metrics=[fd]"]
    suite += ["generators=[{type: ground_truth}]", "clip_seconds=0.3", "bootstrap=2"]
    commands = {
        "data check": [*PY, "data", "check", "--config", str(DEBUG), *folder, "--report",
                       str(report)],
        "encode": [*PY, "encode", "--config", str(DEBUG), *folder, f"data.cache_dir={cache}"],
        "generate": [*PY, "generate", "--ckpt", str(ckpt), "--vocals", str(vocals), "--out",
                     str(out / "acc.wav"), *fast],
        "evaluate": [*PY, "evaluate", "--suite", str(SUITE), "--out", str(ev), "--no-mlflow",
                     *folder, *suite],
    }  # fmt: skip
    for name, cmd in commands.items():
        res = run_measured(cmd, env=env, cwd=work, max_memory=CAP, timeout=600)
        message = _message(res)
        if name == "data check" and report.is_file():
            rows_ = [json.loads(x) for x in report.read_text().splitlines()]
            skips = [f"skipped {r['song_id']}: {r['path']}: {r['reason']}" for r in rows_]
            message = "; ".join(skips)
            message = message or "all songs usable"
        left = {
            "data check": [f for f in _files(root) if f not in before],
            "encode": [f for f in _files(root) if f not in before]
            + [f for f in _files(cache) if f.endswith(".tmp")],
            "generate": _files(out),
            "evaluate": _files(ev),
        }[name]
        rows.append([case.name, name, str(res.code), _short(message, work), f"{res.peak_mb:.0f}",
                     ", ".join(left)[:60] or "none"])  # fmt: skip
        print(" | ".join(rows[-1]), flush=True)
    return rows


def web_rows(ckpt: Path, work: Path, env: dict[str, str]) -> list[list[str]]:
    """One server (default limits, as `samuel serve`), every hostile upload in turn."""
    import resource

    from tests.serve.serve_helpers import call, call_json

    tmp = work / "server-tmp"
    tmp.mkdir()

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))

    cmd = [*PY, "serve", "--ckpt", str(ckpt), "--port", "0", "--device", "cpu"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**env, "TMPDIR": str(tmp)}, preexec_fn=cap)  # fmt: skip
    rows = []
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        base = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)  # type: ignore[union-attr]
        call(f"{base}/")
        for case in AUDIO:
            body = case.make(work / "uploads").read_bytes()
            name = urllib.parse.quote(os.fsencode(case.filename))
            url = f"{base}/api/jobs?filename={name}&sampler=ddim&steps=2"
            hdrs = {"content-type": "application/octet-stream"}
            status, answer = call_json(url, body, headers=hdrs)
            if status == 202:
                for _ in range(600):
                    job = call_json(f"{base}/api/jobs/{answer['id']}")[1]
                    if job["state"] in ("done", "failed"):
                        break
                    time.sleep(0.1)
                message = f"202, job {job['state']}"
            else:
                message = f"{status}: {answer['error']}"
            hwm = re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{proc.pid}/status").read_text())
            roots = list(tmp.glob("samuel-serve-*"))
            left = _files(roots[0]) if roots else []
            outputs = ("accompaniment.wav", "mix.wav", "spectrogram.png")
            left = [f for f in left if not f.endswith(outputs)]
            peak = f"{int(hwm.group(1)) / 1024:.0f} (server)"  # type: ignore[union-attr]
            row = [case.name, "web POST /api/jobs", str(status), _short(message, work), peak]
            rows.append([*row, ", ".join(left) or "none"])
            print(" | ".join(rows[-1]), flush=True)
    finally:
        proc.terminate()
        proc.wait(60)
    return rows


def ckpt_rows(ckpt_case: object, work: Path, env: dict[str, str]) -> list[list[str]]:
    path = work / "model.ckpt"
    ckpt_case.write(path)  # type: ignore[attr-defined]
    vocal = PLAIN.make(work)
    out, ev = work / "out", work / "eval"
    commands = {
        "generate": [*PY, "generate", "--ckpt", str(path), "--vocals", str(vocal), "--out",
                     str(out / "a.wav"), "--device", "cpu"],
        "evaluate": [*PY, "evaluate", "--suite", str(SUITE), "--ckpt", str(path), "--out",
                     str(ev), "--no-mlflow"],
        "serve": [*PY, "serve", "--ckpt", str(path), "--port", "0", "--device", "cpu"],
    }  # fmt: skip
    rows = []
    for name, cmd in commands.items():
        res = run_measured(cmd, env=env, cwd=work, max_memory=CAP, timeout=300)
        left = _files(out) + _files(ev)
        what = [ckpt_case.name, f"{name} --ckpt", str(res.code)]  # type: ignore[attr-defined]
        rows.append([*what, _short(_message(res), work), f"{res.peak_mb:.0f}", ", ".join(left)
                     or "none"])  # fmt: skip
        print(" | ".join(rows[-1]), flush=True)
    return rows


def _train(work: Path, env: dict[str, str]) -> Path:
    run = work / "run"
    cmd = [*PY, "fit", "--config", str(DEBUG), f"data.root={work / 'demo'}", f"run.dir={run}",
           "tracking.enabled=false", "callbacks.num_sample_songs=0"]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return run / "checkpoints" / "last.ckpt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="Markdown file for the table")
    parser.add_argument("--ckpt", default=None, help="a debug checkpoint (default: train one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="samuel-hostile-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(work / "xdg")}
        ckpt = Path(args.ckpt) if args.ckpt else _train(work, env)
        rows: list[list[str]] = []
        for case in AUDIO:
            (work / case.name).mkdir()
            rows += audio_rows(case, ckpt, work / case.name, env)
        (work / "web").mkdir()
        rows += web_rows(ckpt, work / "web", env)
        for ck in CHECKPOINTS:
            (work / ck.name).mkdir()
            rows += ckpt_rows(ck, work / ck.name, env)
    head = ["case", "command", "exit code / HTTP status", "message", "peak RSS (MB)", "files left"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    intro = (
        "Hostile corpus (tests/reliability/hostile.py) through every command, each a separate "
        "process with RLIMIT_AS = 4 GB; peak RSS = wait4 ru_maxrss of that process (web: the "
        "server's VmHWM after the upload, cumulative). Regenerate: "
        "`python -m tests.reliability.hostile_table --out FILE`.\n\n"
    )
    Path(args.out).write_text(intro + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
