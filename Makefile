# minik's entry points. The README's quick start is `make up` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv host up down test lint typecheck bench clean

venv:
	@scripts/bootstrap.sh

host:  ## iptables, nft, iproute2 and a running Docker engine (installed when root)
	@scripts/host-tools.sh

up: venv host  ## the whole local cluster on the embedded defaults, with the demo
	@$(PY) -m minik.cluster.local up

down: venv  ## stop everything `make up` started
	@$(PY) -m minik.cluster.local down

test: venv host  ## the whole test suite (what CI runs)
	@scripts/run-tests.sh

lint: venv
	@$(VENV)/bin/ruff check minik tests bench
	@$(VENV)/bin/ruff format --check minik tests bench
	@$(VENV)/bin/lint-imports --no-cache --no-logo

typecheck: venv  ## mypy --strict over the code, its tests and the benchmarks
	@$(VENV)/bin/mypy minik tests bench

bench: venv  ## every benchmark, each printing its figure next to a same-run baseline
	@for b in bench/bench_*.py; do echo "==> $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
