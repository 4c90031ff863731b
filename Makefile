# Two commands for a newcomer: `make run` and `make test`. Both build .venv from uv.lock first.
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-from-lock
ARGS ?=

# Bytecode is compiled at install time: with PYTHONDONTWRITEBYTECODE set (as on these machines)
# Python would otherwise recompile TensorFlow's sources on every start, tripling import time.
#
# The first interpreter that really is Python 3.10: on PATH, or installed through pyenv.
# (A pyenv shim named python3.10 exists even when it cannot run, so each candidate is tried.)
FIND_PYTHON310 = for candidate in $$(command -v python3.10 python3 python 2>/dev/null) \
	$$(ls -d "$$(pyenv root 2>/dev/null)"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -rV); do \
	"$$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null \
	&& { echo "$$candidate"; break; }; done

.PHONY: install run serve serve-docker pipeline-docker test lint format bench bench-scale clean

install: $(STAMP)

$(STAMP): pyproject.toml uv.lock
	@python310="$$($(FIND_PYTHON310))"; \
	if [ -z "$$python310" ]; then \
		echo "Python 3.10 is required (TFX 1.16 supports 3.9 and 3.10 only) and none was found on PATH or through pyenv." >&2; \
		echo "Install it, e.g. 'pyenv install 3.10', then run make again." >&2; exit 1; \
	fi; \
	echo "Building $(VENV) with $$python310 from uv.lock"; \
	"$$python310" -m venv $(VENV) && \
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) && \
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --quiet --compile-bytecode --python $(BIN)/python
	@touch $@

run: $(STAMP)
	$(BIN)/penguins run $(ARGS)

serve: $(STAMP)
	$(BIN)/penguins serve $(ARGS)

# The real TF Serving in Docker, on what `make run` pushed (needs a Docker engine).
serve-docker:
	@test -f workspace/serving/models.config || { echo "Nothing pushed yet: run 'make run' first." >&2; exit 1; }
	docker compose -f docker/docker-compose.yml up -d serving

# The pipeline in its container (docker/Dockerfile) on ./workspace (needs a Docker engine).
# The container runs as your uid, so that what it writes into ./workspace is yours.
pipeline-docker:
	mkdir -p workspace
	PENGUINS_UID=$$(id -u) docker compose -f docker/docker-compose.yml build pipeline
	PENGUINS_UID=$$(id -u) docker compose -f docker/docker-compose.yml run --rm pipeline $(ARGS)

test: $(STAMP) lint
	$(BIN)/pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline_speed.py
	$(BIN)/python benchmarks/serving_speed.py

# 10k, 100k and 1M synthetic rows, in-process and multi-processing Beam, and the notebook way
# (about an hour on 2 cores).
bench-scale: $(STAMP)
	$(BIN)/python benchmarks/scale.py $(ARGS)

clean:
	rm -rf $(VENV) workspace .pytest_cache .ruff_cache
