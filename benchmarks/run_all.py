"""Run every benchmark script and collect their tables into benchmarks/RESULTS.md.

Each ``benchmarks/*.py`` (except common.py and run_all.py) runs as its own subprocess, with
``--quick`` passed on when given here and the script accepts it; each writes
``results/<name>.{json,md}``, and RESULTS.md gathers the markdown tables with the machine,
date and command (written atomically).

    python benchmarks/run_all.py [--quick] [--only NAME ...] [--skip NAME ...] [--timeout S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

from samuel_pl.files import write_text

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SKIP = {"common.py", "run_all.py"}


def scripts(only: list[str] | None = None, skip: list[str] | None = None) -> list[Path]:
    """Benchmark scripts in name order, filtered by stem."""
    found = [p for p in sorted(HERE.glob("*.py")) if p.name not in SKIP]
    if only:
        found = [p for p in found if p.stem in only]
    return [p for p in found if p.stem not in set(skip or [])]


def machine_line() -> str:
    """One line describing the machine (uses common.machine() when present)."""
    try:
        sys.path.insert(0, str(HERE))
        from common import machine

        m = machine()
        return (
            f"{m['platform']}; CPU {m['cpu']} x{m['cpu_count']}; torch {m['torch']}, "
            f"{m['torch_threads']} threads; Python {m['python']}"
        )
    except Exception:  # noqa: BLE001 - a description, never a reason to fail
        return f"{platform.platform()}; {os.cpu_count()} CPUs; Python {platform.python_version()}"


def run_one(script: Path, quick: bool, timeout: float) -> dict[str, object]:
    """Run one script; return its status, seconds and the command used."""
    cmd = [sys.executable, str(script)]
    if quick and "--quick" in script.read_text(encoding="utf-8"):
        cmd.append("--quick")
    started, t0 = time.time() - 1.0, time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=HERE.parent, timeout=timeout, capture_output=True, text=True)
        ok, tail = proc.returncode == 0, (proc.stderr.strip().splitlines() or [""])[-1]
        status = "ok" if ok else f"failed (exit {proc.returncode}): {tail}"
    except subprocess.TimeoutExpired:
        status = f"timed out after {timeout:g} s"
    seconds = time.perf_counter() - t0
    shown = " ".join(shlex.quote(a) for a in ["python", str(script.relative_to(HERE.parent))])
    return {
        "status": status,
        "seconds": seconds,
        "started": started,
        "command": shown + " --quick" * (len(cmd) > 2),
    }


def _strip_title(md: str) -> str:
    lines = md.strip().splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines).strip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    p.add_argument("--only", nargs="*", default=None, help="run only these benchmark names")
    p.add_argument("--skip", nargs="*", default=None, help="skip these benchmark names")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    args = p.parse_args(argv)
    todo = scripts(args.only, args.skip)
    if not todo:
        print("error: no benchmark scripts selected", file=sys.stderr)
        return 2
    started = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    own_cmd = " ".join(shlex.quote(a) for a in ["python", "benchmarks/run_all.py", *sys.argv[1:]])
    parts = [
        "# Benchmark results",
        "",
        f"- date: {started}",
        f"- command: `{own_cmd}`",
        f"- machine: {machine_line()}",
        "",
    ]
    failed = 0
    for script in todo:
        print(f"== {script.stem}", flush=True)
        res = run_one(script, args.quick, args.timeout)
        failed += res["status"] != "ok"
        print(f"   {res['status']} ({res['seconds']:.0f} s)", flush=True)
        md = RESULTS / f"{script.stem}.md"
        parts += [
            f"## {script.stem}",
            "",
            f"`{res['command']}`: {res['status']} in {res['seconds']:.0f} s",
            "",
        ]
        fresh = md.is_file() and md.stat().st_mtime >= float(res["started"])
        if md.is_file():
            note = "" if fresh else "(not rewritten by this run; results of an earlier run:)\n\n"
            parts += [note + _strip_title(md.read_text(encoding="utf-8")), ""]
        else:
            parts += ["(no results written; see the script's output)", ""]
    for script in [p for p in scripts() if p not in todo]:  # skipped: earlier results, labelled
        md = RESULTS / f"{script.stem}.md"
        earlier = _strip_title(md.read_text(encoding="utf-8")) if md.is_file() else "(none)"
        parts += [f"## {script.stem}", "", "(skipped by this run; results of an earlier run:)",
                  "", earlier, ""]  # fmt: skip
    stems = {p.stem for p in scripts()}
    for md in sorted(RESULTS.glob("*.md")):  # tables without a script of their own name
        if md.stem not in stems:
            note = "(a table without a script of its own name, as last written:)"
            if md.stem == "config_defaults":
                note = "(written by hand from the tables it links:)"
            parts += [f"## {md.stem}", "", note, "", _strip_title(md.read_text("utf-8")), ""]
    RESULTS.mkdir(exist_ok=True)
    write_text(HERE / "RESULTS.md", "\n".join(parts).rstrip() + "\n")
    print(f"wrote {HERE / 'RESULTS.md'} ({len(todo) - failed} of {len(todo)} benchmarks ok)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
