# Two entry points a newcomer needs (see README): `make demo` and `make test`.
# Both create ./.venv and install through requirements-lock.txt, the versions the tests ran with:
# an unpinned install once resolved an upstream release that broke the first command of a fresh clone.
PY ?= python3
VENV ?= .venv
LOCK := requirements-lock.txt
# The locked torch; a GPU workstation passes its CUDA build of the same version, e.g.
#   PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cu128 make demo TORCH_SPEC=torch==2.13.0+cu128
TORCH_SPEC ?= $(shell sed -n 's/^\(torch==[^ ]*\).*/\1/p' $(LOCK))
BIN := $(VENV)/bin
# Build tools come from the lock too (--no-build-isolation): llama-cpp-python is compiled on install
# and our own package is built with setuptools.
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check
LOCKED := $(PIP) --no-build-isolation -c $(LOCK)
COMPILE := $(BIN)/pip-compile --quiet --all-extras --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links --no-emit-trusted-host --output-file $(LOCK) pyproject.toml lock-inputs.in

.PHONY: demo test install install-demo install-dev system-deps lint lock test-latest cli-reference

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) -c $(LOCK) pip setuptools wheel scikit-build-core

# What `lipe demo` needs and nothing more: no Qt, no llama-cpp-python (a C++ build of minutes).
install-demo: $(BIN)/python
	$(PIP) -c $(LOCK) "$(TORCH_SPEC)"
	$(LOCKED) -e .

# The full app: desktop, captioning and LLM prompts.
install: install-demo
	$(LOCKED) -e ".[gui,llm,heic]"

install-dev: system-deps install
	$(LOCKED) -e ".[gui,llm,heic,dev]"

system-deps:
	bash installers/linux/system-deps.sh

demo: install-demo
	$(BIN)/lipe demo --out lipe-demo

test: install-dev
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow" --durations=15

# Regenerate the lock after changing dependencies in pyproject.toml or lock-inputs.in; the
# "+cpu" label is dropped so that a CUDA build of the same torch satisfies the lock as well.
lock: $(BIN)/python
	$(PIP) -c $(LOCK) pip-tools
	$(COMPILE)
	sed -i 's/^\(torch==[0-9.]*\)+[A-Za-z0-9.]*/\1/' $(LOCK)
	$(BIN)/python scripts/lock_inputs.py $(LOCK)

# Not in CI: the newest releases pyproject.toml allows, in a throw-away venv, so that an upcoming
# break is seen here before a `make lock` (or a user without the lock) meets it.
test-latest: system-deps
	rm -rf .venv-latest
	$(PY) -m venv .venv-latest
	.venv-latest/bin/python -m pip install -q --upgrade pip
	echo "$(TORCH_SPEC)" > .venv-latest/torch.txt  # keep the local torch build: a newer one is GBs of CUDA
	.venv-latest/bin/python -m pip install -q -c .venv-latest/torch.txt "$(TORCH_SPEC)"
	.venv-latest/bin/python -m pip install -q -c .venv-latest/torch.txt --upgrade --upgrade-strategy eager \
		-e ".[gui,llm,heic,dev]"
	.venv-latest/bin/python -m pip list --format=freeze > .venv-latest/versions.txt
	LIPE_ALLOW_UNTESTED=1 QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 .venv-latest/bin/python -m pytest -q -m "not slow"

# docs/cli-reference.md from the parsers (after adding or changing a command's options)
cli-reference:
	$(BIN)/python scripts/cli_reference.py

lint:
	$(BIN)/ruff check lipe_engine lipe_desktop tests benchmarks
	$(BIN)/mypy

# The wheels a lent GPU machine (Python + PyTorch only, no network) needs for scripts/gpu_check.py,
# into gpu-wheels/ (git-ignored; carry it with the working tree). PYTHONS: that machine's Python(s).
.PHONY: gpu-wheels
PYTHONS ?= $(shell $(PY) -c 'import sys; print(f"{sys.version_info.major}.{sys.version_info.minor}")')
gpu-wheels: $(BIN)/python
	$(BIN)/python scripts/gpu_check.py --download-wheels --pythons $(PYTHONS)
