# Two commands on a fresh clone: `make run` (set up and materialize everything) and `make test`.
# All state lives under WORKBENCH_HOME (default .workbench/), never under $HOME.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export WORKBENCH_HOME ?= $(CURDIR)/.workbench
export DAGSTER_HOME ?= $(WORKBENCH_HOME)/dagster
export MPLCONFIGDIR ?= $(WORKBENCH_HOME)/matplotlib
export IPYTHONDIR ?= $(WORKBENCH_HOME)/ipython
export JUPYTER_CONFIG_DIR ?= $(WORKBENCH_HOME)/jupyter/config
export JUPYTER_DATA_DIR ?= $(WORKBENCH_HOME)/jupyter/data
export JUPYTER_RUNTIME_DIR ?= $(WORKBENCH_HOME)/jupyter/runtime
export MLFLOW_DISABLE_TELEMETRY := true
# One planned event per asset for a ranged run, not one per partition (why: cli.PLANNED_EVENTS_AS_SUBSETS).
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
export MLFLOW_LOGGING_LEVEL ?= WARNING
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test ui lab bench clean

# torch first and pinned (the CPU wheel); the constraints file keeps every later resolve on it, never CUDA.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name caregap-workbench --display-name "Care-gap workbench" >/dev/null
	touch $@

run: $(STAMP)
	$(BIN)/workbench run

test: $(STAMP)
	$(BIN)/pytest

# Dagster's UI on 127.0.0.1:3000 and, beside it, the MLflow UI its report and run links open (WORKBENCH_MLFLOW_UI_URL, :5000).
ui: $(STAMP)
	$(BIN)/workbench init
	$(BIN)/workbench mlflow-ui & trap "kill $$!" EXIT; $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# JupyterLab on 127.0.0.1:$LAB_PORT (8888) with a fresh token, or $LAB_TOKEN; the URL with the token is printed first.
# Jupyter refuses root without --allow-root, so that flag is added only when running as root.
lab: $(STAMP)
	$(BIN)/workbench init
	$(BIN)/python -m ipykernel install --sys-prefix --name caregap-workbench --display-name "Care-gap workbench" >/dev/null
	@port=$${LAB_PORT:-8888}; token=$${LAB_TOKEN:-$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))')}; \
	echo "JupyterLab: http://127.0.0.1:$$port/lab?token=$$token"; \
	exec $(BIN)/jupyter lab --ip 127.0.0.1 --port $$port --ServerApp.port_retries=0 --no-browser --notebook-dir notebooks \
		--IdentityProvider.token=$$token $(if $(filter 0,$(shell id -u)),--allow-root)

# Every benchmark against its peer as one table; BENCH_QUICK=1 for a smoke run (scales: bench/__main__.py).
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(WORKBENCH_HOME)
