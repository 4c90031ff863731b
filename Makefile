# Two commands for a newcomer: `make run` and `make test`. Both build .venv from uv.lock first.
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-from-lock
ARGS ?=

# Which stack .venv gets (README, "Supported platforms"): auto, the newest this machine can run,
# or tfx-1.21 (Python 3.11-3.13, glibc 2.39+) or tfx-1.16 (Python 3.10), e.g. `make test STACK=tfx-1.16`.
STACK ?= auto

# `install` runs pipeline/stack.py every time, with any Python 3.8+ on PATH: it prints the stack
# and names the interpreter. .venv is rebuilt when that choice differs from the one its stamp
# records (another STACK, or the interpreter moved) or when pyproject.toml or uv.lock changed.
# Bytecode is compiled at install time: with PYTHONDONTWRITEBYTECODE set (as on these machines)
# Python would otherwise recompile TensorFlow's sources on every start, tripling import time.
FIND_BOOT_PYTHON = for candidate in python3 python; do \
	"$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null && { echo "$$candidate"; break; }; done

.PHONY: install run serve serve-docker pipeline-docker test test-debian13 lint format bench bench-scale clean

install:
	@boot="$$($(FIND_BOOT_PYTHON))"; \
	if [ -z "$$boot" ]; then echo "make needs python3 (3.8 or newer) on PATH to choose the stack; none was found." >&2; exit 1; fi; \
	choice="$$("$$boot" pipeline/stack.py --stack='$(STACK)' --record)" || exit 1; \
	if [ -f $(STAMP) ] && [ "$$(cat $(STAMP))" = "$$choice" ] && [ $(STAMP) -nt pyproject.toml ] && [ $(STAMP) -nt uv.lock ]; then \
		exit 0; \
	fi; \
	python="$${choice#* }"; \
	echo "Building $(VENV) with $$python from uv.lock"; \
	rm -rf $(VENV) && \
	"$$python" -m venv $(VENV) && \
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) && \
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --quiet --compile-bytecode --python $(BIN)/python && \
	echo "$$choice" > $(STAMP)

run: install
	$(BIN)/penguins run $(ARGS)

serve: install
	$(BIN)/penguins serve $(ARGS)

# The real TF Serving in Docker, on what `make run` pushed, behind the logging front (REST on
# :8501), with Prometheus on :9090 (needs a Docker engine).
serve-docker:
	@test -f workspace/serving/models.config || { echo "Nothing pushed yet: run 'make run' first." >&2; exit 1; }
	PENGUINS_UID=$$(id -u) docker compose -f docker/docker-compose.yml up -d serving front prometheus

# The pipeline in its container (docker/Dockerfile) on ./workspace (needs a Docker engine).
# The container runs as your uid, so that what it writes into ./workspace is yours.
pipeline-docker:
	mkdir -p workspace
	PENGUINS_UID=$$(id -u) docker compose -f docker/docker-compose.yml build pipeline
	PENGUINS_UID=$$(id -u) docker compose -f docker/docker-compose.yml run --rm pipeline $(ARGS)

# Test files run on TEST_WORKERS processes (pytest-xdist), a file's tests in one process so that its
# module fixtures (a trained workspace, a server) are built once. One test seldom keeps two cores
# busy: on 2 cores, two workers ran test_retrain.py and test_pipeline_e2e.py in 418 s against 773 s.
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: install lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(ARGS)

# The whole suite again on Debian 13 (Python 3.13, TFX 1.21) in a chroot; needs root (see .ci/debian13-suite).
test-debian13:
	ARGS="$(ARGS)" .ci/debian13-suite

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python benchmarks/pipeline_speed.py
	$(BIN)/python benchmarks/serving_speed.py
	$(BIN)/python benchmarks/monitor_speed.py
	$(BIN)/python benchmarks/labels_and_reuse.py

# 10k, 100k and 1M synthetic rows, in-process and multi-processing Beam, and the notebook way
# (about an hour on 2 cores).
bench-scale: install
	$(BIN)/python benchmarks/scale.py $(ARGS)

clean:
	rm -rf $(VENV) workspace .pytest_cache .ruff_cache
