# samuel_pl bootstrap and common tasks. `make fit` and `make test` are the README quickstart.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bootstrap-stamp
# CPU wheel of torch that lies on local disk here; on a CUDA machine pip picks the default build.
TORCH_CPU ?= torch==2.13.0
TORCH_CUDA ?= torch
HAS_CUDA := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
TORCH_SPEC := $(if $(HAS_CUDA),$(TORCH_CUDA),$(TORCH_CPU))
ARGS ?=

.PHONY: install fit vocoder test lint lint-docker typecheck bench clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 is required)" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev,baselines,serve,sweep,vae]"
	# tinysoundfont declares pyaudio (does not build here, not needed for offline rendering)
	$(PY) -m pip install --quiet --no-deps "tinysoundfont>=0.3"
	@touch $(STAMP)

fit: install
	$(PY) -m samuel_pl.fit $(ARGS)

# the mel codec's vocoder for the demo recipes (about 28 minutes on one core; docs/codecs.md)
vocoder: install
	OMP_NUM_THREADS=1 $(PY) -m samuel_pl.fit --config experiments/vocoder/demo.yaml $(ARGS)

lint: install
	$(PY) -m ruff check samuel_pl tests benchmarks
	$(PY) -m ruff format --check samuel_pl tests benchmarks

lint-docker: install
	$(VENV)/bin/hadolint docker/Dockerfile docker/Dockerfile.cpu

typecheck: install
	$(PY) -m mypy samuel_pl/nn samuel_pl/diffusion

test: lint typecheck
	$(PY) -m pytest -q $(ARGS)

bench: install
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
