# qc — one command to run it, one to test it. Only Python 3.11 is assumed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run stop status test unit integration e2e kafka test-kafka lint bench clean browser prometheus nginx audio

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP) audio
	$(PY) -m qc_tools.devstack run

stop: $(STAMP)
	$(PY) -m qc_tools.devstack stop

# Every process of the stack `make run` started: pid, state, uptime, restarts, memory, ready.
status: $(STAMP)
	$(PY) -m qc_tools.cli status

lint: $(STAMP)
	$(VENV)/bin/ruff check qc qc_tools services tests bench

# Headless Chromium and axe-core for the form's browser tests, installed only when missing.
AXE_CORE := var/npm/node_modules/axe-core/axe.min.js
# zbarimg reads the QR code of a new link's card the way a phone camera would (tests/e2e/test_links_browser.py).
browser:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v zbarimg >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver zbar-tools)
	test -f $(AXE_CORE) || npm install --prefix var/npm --no-audit --no-fund --silent axe-core@4.14.1

# Recordings of every question and answer (Debian's espeak-ng), for Read aloud on a
# phone with no voice; only the ones not made yet (services/checks/web/recordings.py).
# Where it cannot be installed (no root), `make run` still starts: Read aloud then uses the phone's voice
# only, and the recordings' tests say espeak-ng is missing.
audio: $(STAMP)
	command -v espeak-ng >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends espeak-ng) || \
		echo "espeak-ng could not be installed: no recordings, Read aloud uses the phone's own voice"
	if command -v espeak-ng >/dev/null; then $(PY) -m services.checks.web.recordings; fi

# Debian's Prometheus: promtool checks the rules, and a real server scrapes the
# stack in tests/e2e/test_metrics_under_load.py. Installed only when missing.
prometheus:
	command -v prometheus >/dev/null && command -v promtool >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus)

# Debian's nginx: tests/integration/test_proxy_logs.py runs deploy/nginx.conf
# to check its access log keeps no sign-in secrets. Installed only when missing.
nginx:
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx)

test: $(STAMP) lint browser prometheus nginx audio
	$(PY) -m pytest -q

# The tiers one at a time. unit: no broker, database or browser, a few seconds
# (the promtool cases run when Debian's prometheus is installed).
unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

# APIs, pages and workers in-process over a real broker, database and SMTP sink it starts.
integration: $(STAMP) nginx audio
	$(PY) -m pytest -q tests/integration

# gunicorn and worker processes, headless Chromium, crash, outage and load tests; then the fuzzer.
e2e: $(STAMP) browser prometheus audio
	$(PY) -m pytest -q tests/e2e tests/fuzz

# A real Apache Kafka (KRaft) from Apache Kafka's own jars, fetched with Maven into var/kafka/lib
# (deploy/kafka/pom.xml; needs Java 17 and Maven): `make kafka` runs one until Ctrl-C (`NODES=3`: three),
# `make test-kafka` runs the integration and e2e tiers on one instead of the embedded broker (and
# the tests that need three brokers, or compaction, which are skipped on the embedded one).
# Where Java or Maven is missing it says so and skips: `make test` never needs them.
kafka: $(STAMP)
	$(PY) -m qc_tools.kafka_cluster --nodes $(or $(NODES),1)

test-kafka: $(STAMP) browser prometheus nginx audio
	@if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then \
	  echo "test-kafka SKIPPED: Apache Kafka's tier needs Java 17 and Maven (mvn), and this machine lacks one"; \
	  exit 0; fi; \
	QC_STACK_BROKER=kafka $(PY) -m pytest -q tests/integration tests/e2e

# The benchmark (issue 8): its own stack on free ports under a temporary directory; prints one table.
bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(PY) -m bench

clean: stop
	rm -rf var
