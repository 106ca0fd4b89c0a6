# Two entry points a newcomer needs (see README): `make demo` and `make test`.
# Both create ./.venv, install what the project needs, then run.
PY ?= python3
VENV ?= .venv
# CPU machines: the pinned CPU wheel. GPU workstations: see README "GPU workstations".
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test install install-dev system-deps lint

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[gui,llm]"

install-dev: system-deps $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[gui,llm,dev]"

system-deps:
	bash installers/linux/system-deps.sh

demo: install
	$(BIN)/lipe demo --out lipe-demo

test: install-dev
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow"

lint:
	$(BIN)/ruff check lipe_engine lipe_desktop tests benchmarks
	$(BIN)/mypy
