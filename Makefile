# make bench: the benchmarks of bench/ (see bench/README.md). Needs PostgreSQL, Redis and `wrk`.
PYTHON ?= .venv/bin/python
PG ?= postgres://postgres@127.0.0.1:5432
BENCH_DB ?= opskaizen_bench
BENCH_REDIS ?= redis://127.0.0.1:6379/0
# Each benchmark writes its figures here; bench/summary.py prints them beside their targets.
BENCH_OUT ?= var/bench
# The drain benchmark's figures (one and two worker processes, peak memory): bench/drain_bench.py.
BENCH_DRAIN_JSON ?= $(BENCH_OUT)/drain.json
LARGE := $(PG)/$(BENCH_DB)
SMALL := $(PG)/$(BENCH_DB)_small
COUNT = psql "$(1)" -tAc "SELECT count(*) FROM incidents_incident" 2>/dev/null || echo 0

.PHONY: bench bench-data
bench: bench-data
	@mkdir -p $(BENCH_OUT) && rm -f $(BENCH_OUT)/metrics.json $(BENCH_OUT)/ingest.json $(BENCH_OUT)/pages.json $(BENCH_DRAIN_JSON)
	@echo "== metrics ==" && DATABASE_URL=$(LARGE) $(PYTHON) bench/metrics_bench.py --json $(BENCH_OUT)/metrics.json
	@# The pages before the ingest: the ingest adds its incidents to the measured team.
	@echo "== pages ==" && REDIS_URL=$(BENCH_REDIS) $(PYTHON) bench/pages_bench.py --small $(SMALL) --large $(LARGE) \
		--json $(BENCH_OUT)/pages.json || true
	@echo "== ingest ==" && DATABASE_URL=$(LARGE) REDIS_URL=$(BENCH_REDIS) $(PYTHON) bench/ingest_bench.py \
		--json $(BENCH_OUT)/ingest.json
	@echo "== drain ==" && DATABASE_URL=$(LARGE) $(PYTHON) bench/drain_bench.py --baseline $(BENCH_OUT)/ingest.json \
		--json $(BENCH_DRAIN_JSON)
	@echo "== summary ==" && $(PYTHON) bench/summary.py --metrics $(BENCH_OUT)/metrics.json \
		--ingest $(BENCH_OUT)/ingest.json --pages $(BENCH_OUT)/pages.json --drain $(BENCH_DRAIN_JSON)

# Create, migrate and fill both databases when they do not hold exactly what the generator writes
# (fewer: never filled; more: an ingest run added its incidents to the measured team).
bench-data:
	@for db in $(BENCH_DB) $(BENCH_DB)_small; do \
		psql "$(PG)/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$$db'" | grep -q 1 \
			|| psql "$(PG)/postgres" -qc "CREATE DATABASE $$db"; \
		DATABASE_URL=$(PG)/$$db $(PYTHON) manage.py migrate -v0; \
	done
	@[ "$$($(call COUNT,$(LARGE)))" -eq 100000 ] || DATABASE_URL=$(LARGE) $(PYTHON) bench/generate.py
	@[ "$$($(call COUNT,$(SMALL)))" -eq 300 ] || \
		DATABASE_URL=$(SMALL) $(PYTHON) bench/generate.py --incidents 300 --changes 600 --actions 60
