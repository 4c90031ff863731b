# Two commands for a newcomer: `make run` and `make test`. Both build .venv from uv.lock first.
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-from-lock
ARGS ?=

# Which stack .venv gets (docs/platforms.md): auto, the newest this machine can run,
# or tfx-1.21 (Python 3.11-3.13, glibc 2.39+) or tfx-1.16 (Python 3.10), e.g. `make test STACK=tfx-1.16`.
STACK ?= auto

# `install` runs pipeline/stack.py every time, with any Python 3.8+ on PATH: it prints the stack
# and names the interpreter. .venv is rebuilt when that choice differs from the one its stamp
# records (another STACK, or the interpreter moved) or when pyproject.toml or uv.lock changed.
# Bytecode is compiled at install time: with PYTHONDONTWRITEBYTECODE set (as on these machines)
# Python would otherwise recompile TensorFlow's sources on every start, tripling import time.
FIND_BOOT_PYTHON = for candidate in python3 python; do \
	"$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null && { echo "$$candidate"; break; }; done

.PHONY: install run serve base-image image pipeline-container compose-up compose-down pushed registry-images prometheus-image local-images metadata-secrets metadata-up image-report serve-docker pipeline-docker test test-containers test-clusters flink-up flink-down spark-up spark-down test-debian13 lint format bench bench-scale clean

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

# Containers, with docker or podman (whichever works; ENGINE=docker or ENGINE=podman forces one).
# docs/containers.md. Each target says in one line what is missing when it cannot run.
# COMPOSE_PROJECT names the stack (containers penguins_front_1, ...): the tests bring up their own.
COMPOSE_PROJECT ?= penguins
# PROFILE=cluster adds the compose file's `cluster` profile: a Flink cluster for Beam's `flink` preset.
# METADATA=mysql adds the `mysql` profile and docker/compose.mysql.yml: ML Metadata in a MySQL server
# for the pipeline, the retrainer and the front (with SERVING=local, Debian's MariaDB built here).
COMPOSE_FILES := -p $(COMPOSE_PROJECT) -f docker/docker-compose.yml $(if $(filter local,$(SERVING)),-f docker/compose.local.yml) \
	$(if $(filter mysql,$(METADATA)),-f docker/compose.mysql.yml --profile mysql) $(if $(filter cluster,$(PROFILE)),--profile cluster)
METADATA_SECRETS := docker/secrets/metadata-password docker/secrets/mysql-root-password
CLUSTER_SERVICES := flink-jobmanager flink-taskmanager beam-job-server beam-worker-pool
CLUSTER_UP = Flink's web UI on localhost:$${FLINK_REST_PORT:-8081}, Beam's job server on localhost:$${BEAM_JOB_PORT:-8099}; runs go from the pipeline service (docker/docker-compose.yml).
CONTAINER_UID ?= $(shell id -u)
CONTAINER_GID ?= $(shell id -g)

# The registry images compose-up runs, pulled first, so that where one cannot be pulled compose-up
# says so in one line (podman-compose would wait forever). SERVING_IMAGES: TF Serving and Prometheus,
# the images with a registry path above the compose file's cluster profile (the pipeline image,
# built here, has none; SERVING=local replaces both). CLUSTER_IMAGES, with PROFILE=cluster: Flink and
# Beam's job server, every image below the line that opens the profile but the pipeline image's.
COMPOSE_CLUSTER_LINE := ^  \# The cluster profile
SERVING_IMAGES = $(shell sed -n '/$(COMPOSE_CLUSTER_LINE)/q; s|^    image: \(.*/.*\)|\1|p' docker/docker-compose.yml)
CLUSTER_IMAGES = $(sort $(shell sed -n '/$(COMPOSE_CLUSTER_LINE)/,$$ s|^    image: ||p' docker/docker-compose.yml | grep -v '^penguins-pipeline:'))
# MYSQL_IMAGE, with METADATA=mysql: the mysql service's (SERVING=local replaces it too).
MYSQL_IMAGE = $(shell sed -n '/^  mysql:/,/^$$/ s|^    image: ||p' docker/docker-compose.yml)
REGISTRY_IMAGES = $(if $(filter local,$(SERVING)),,$(SERVING_IMAGES) $(if $(filter mysql,$(METADATA)),$(MYSQL_IMAGE))) \
	$(if $(filter cluster,$(PROFILE)),$(CLUSTER_IMAGES))

# The base image from Debian's packages, where python:3.13-slim-trixie cannot be pulled (root).
base-image:
	@engine="$$(docker/engine)" && docker/base-image "$$engine"

# penguins-pipeline:latest from docker/Dockerfile.
image:
	@docker/image pipeline

# One `penguins` command in the image on ./workspace, as your uid (default: run), e.g.
# make pipeline-container ARGS="monitor". With METADATA=mysql it is compose's pipeline service,
# its metadata in the mysql service (started first, and waited for), e.g.
# make pipeline-container METADATA=mysql ARGS="history --workspace /workspace".
pipeline-container: image $(if $(filter mysql,$(METADATA)),metadata-up)
	@mkdir -p workspace
ifeq ($(METADATA),mysql)
	@compose="$$(docker/engine compose)" && PENGUINS_UID=$(CONTAINER_UID) PENGUINS_GID=$(CONTAINER_GID) \
		$$compose $(COMPOSE_FILES) --profile pipeline run --rm --no-deps pipeline $(ARGS)
else
	@engine="$$(docker/engine)" && "$$engine" run --rm --user $(CONTAINER_UID):$(CONTAINER_GID) \
		-v "$$PWD/workspace:/workspace" penguins-pipeline:latest $(or $(ARGS),run)
endif

# serving, front, prometheus and retrainer, on what was pushed into ./workspace; SERVING=local
# serves with this project's server instead of TF Serving (docker/compose.local.yml); PROFILE=cluster
# also starts the Flink cluster (Flink, Beam's job server, the worker pool; docs/containers.md).
compose-up: pushed image $(if $(filter local,$(SERVING)),local-images) $(if $(strip $(REGISTRY_IMAGES)),registry-images) \
	$(if $(filter mysql,$(METADATA)),metadata-up)
	@compose="$$(docker/engine compose)" && PENGUINS_UID=$(CONTAINER_UID) PENGUINS_GID=$(CONTAINER_GID) $$compose $(COMPOSE_FILES) up -d --no-build \
		serving front prometheus retrainer $(if $(filter cluster,$(PROFILE)),$(CLUSTER_SERVICES)) >$${TMPDIR:-/tmp}/penguins-compose-up.log 2>&1 \
		|| { tail -n 15 $${TMPDIR:-/tmp}/penguins-compose-up.log >&2; echo "compose up failed (log: $${TMPDIR:-/tmp}/penguins-compose-up.log)." >&2; exit 1; }
	@echo "Up: REST on localhost:$${PENGUINS_REST_PORT:-8501}, gRPC on localhost:$${PENGUINS_GRPC_PORT:-8500}, Prometheus on localhost:$${PROMETHEUS_PORT:-9090}."
	$(if $(filter cluster,$(PROFILE)),@echo "$(CLUSTER_UP)")
	$(if $(filter mysql,$(METADATA)),@echo "Metadata: the mysql service (mysql://penguins@mysql:3306/penguins_metadata; password in docker/secrets/metadata-password).")

# The mysql service alone, until it passes its healthcheck (docker/wait-healthy): compose-up and
# pipeline-container start it first with METADATA=mysql, so no command meets a server still
# initialising its volume, whatever the compose implementation does with healthchecks.
metadata-up: metadata-secrets $(if $(filter local,$(SERVING)),local-images) $(if $(strip $(REGISTRY_IMAGES)),registry-images)
	@compose="$$(docker/engine compose)" && $$compose $(COMPOSE_FILES) up -d --no-build mysql >$${TMPDIR:-/tmp}/penguins-compose-mysql.log 2>&1 \
		|| { tail -n 15 $${TMPDIR:-/tmp}/penguins-compose-mysql.log >&2; echo "compose up mysql failed (log: $${TMPDIR:-/tmp}/penguins-compose-mysql.log)." >&2; exit 1; }
	@docker/wait-healthy $(COMPOSE_PROJECT) mysql

# The mysql profile's passwords: compose secrets, random, made once and kept (the data volume keeps
# them too), readable by their owner only: the uid the containers run as (CONTAINER_UID; the
# server's entrypoint reads them as root).
metadata-secrets: $(METADATA_SECRETS)

$(METADATA_SECRETS):
	@mkdir -p $(@D) && (umask 077 && head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9 >$@.new) && mv $@.new $@
	@if [ "$$(id -u)" = 0 ]; then chown $(CONTAINER_UID):$(CONTAINER_GID) $@; fi

registry-images:
	@engine="$$(docker/engine)" && for image in $(REGISTRY_IMAGES); do \
		"$$engine" image inspect "$$image" >/dev/null 2>&1 || "$$engine" pull -q "$$image" >/dev/null 2>&1 || \
		case " $(CLUSTER_IMAGES) " in \
		*" $$image "*) { echo "$$image cannot be pulled here: 'make flink-up' runs the same Flink cluster without containers." >&2; exit 1; } ;; \
		*) { echo "$$image cannot be pulled here: 'make compose-up SERVING=local' runs this project's own server, Debian's Prometheus and (METADATA=mysql) Debian's MariaDB instead." >&2; exit 1; } ;; \
		esac; \
	done

pushed:
	@test -f workspace/serving/models.config || { echo "Nothing pushed yet: run 'make run' or 'make pipeline-container' first." >&2; exit 1; }

# Also the mysql service when it runs, with or without METADATA=mysql (its data volume stays); it
# can only run once its secrets exist, and without them the profile is left out.
compose-down:
	@compose="$$(docker/engine compose)" && $$compose $(COMPOSE_FILES) \
		$(if $(filter mysql,$(METADATA)),,$(if $(wildcard $(METADATA_SECRETS)),--profile mysql)) down >$${TMPDIR:-/tmp}/penguins-compose-down.log 2>&1 \
		|| { tail -n 15 $${TMPDIR:-/tmp}/penguins-compose-down.log >&2; exit 1; }

# The images SERVING=local runs instead of registry ones: Debian's Prometheus and Debian's MariaDB
# (for METADATA=mysql), on the pipeline image's Debian 13 base. prometheus-image: the old name.
local-images:
	@docker/image prometheus
	@docker/image mariadb

prometheus-image: local-images

# The image's size per layer and its ten biggest installed packages.
image-report:
	@docker/image-report

# The old names: the TF Serving stack, and one pipeline run in the container.
serve-docker: compose-up
pipeline-docker: pipeline-container

# A local Flink or Spark cluster for the `flink` and `spark` Beam presets: the engine's own processes,
# Beam's job server and a Python worker pool, on loopback (docs/scaling.md, "Beam on a Flink or Spark cluster").
# The first `up` fetches the jars (PyPI, Maven Central) into ~/.cache/penguins/cluster; `down` stops
# every process it started. Ports: pipeline/configs/cluster.yaml.
flink-up: install
	@$(BIN)/penguins cluster up flink

flink-down: install
	@$(BIN)/penguins cluster down flink

spark-up: install
	@$(BIN)/penguins cluster up spark

spark-down: install
	@$(BIN)/penguins cluster down spark

# Test files run on TEST_WORKERS processes (pytest-xdist), a file's tests in one process so that its
# module fixtures (a trained workspace, a server) are built once. One test seldom keeps two cores
# busy: on 2 cores, two workers ran test_retrain.py and test_pipeline_e2e.py in 418 s against 773 s.
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: install lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(ARGS)

# The container tests (tests/test_container_run.py): the image built and run with docker or podman,
# the pipeline, compose serving, retraining and recovery, for real; .ci/container-engine sets up podman.
test-containers: install
	$(BIN)/pytest -m container $(ARGS)

# The cluster tests (tests/test_clusters.py): the pipeline on a real Flink and a real Spark cluster,
# started and stopped by the tests on free ports; .ci/run installs Java and Maven where missing.
test-clusters: install
	$(BIN)/pytest -m cluster $(ARGS)

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
	$(BIN)/python benchmarks/metadata_store.py

# 10k, 100k and 1M synthetic rows, in-process and multi-processing Beam, and the notebook way
# (about an hour on 2 cores).
bench-scale: install
	$(BIN)/python benchmarks/scale.py $(ARGS)

clean:
	rm -rf $(VENV) workspace .pytest_cache .ruff_cache
