# Entry points for building, testing and demonstrating zwgk. The local stack
# (deploy/local/stack) does the running; see docs/operations.md.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

BUILD_DIR := build
ASAN_DIR := build-asan
STACK := deploy/local/stack

# The test stack: its own directory and ports, so it runs beside a demo stack.
TEST_STACK_ENV := ZWGK_STACK_DIR=$(CURDIR)/var/test ZWGK_STACK_PORT_BASE=29000
DEMO_STACK_ENV := ZWGK_STACK_DIR=$(CURDIR)/var/demo ZWGK_STACK_PORT_BASE=19000

# What `stack env` prints for clients; a shell that evaluated the demo stack's
# env must not point the test stack at the demo's Kafka and PostgreSQL.
CLIENT_VARS := ZWGK_INGEST_URL ZWGK_KAFKA_BROKERS ZWGK_PG_DSN ZWGK_PORTAL_URL \
	ZWGK_CONFIG ZWGK_PRODUCER_ADMIN_URL ZWGK_CLASSIFIER_ADMIN_URL \
	ZWGK_FANOUT_ADMIN_URL ZWGK_PORTAL_ADMIN_URL ZWGK_STACK_DIR ZWGK_BIN_DIR
TEST_ENV := env $(addprefix -u ,$(CLIENT_VARS)) $(TEST_STACK_ENV)
ASAN_TEST_ENV := env $(addprefix -u ,$(CLIENT_VARS)) ZWGK_STACK_DIR=$(CURDIR)/var/test-asan \
	ZWGK_STACK_PORT_BASE=27000 ZWGK_BUILD_DIR=$(CURDIR)/$(ASAN_DIR) \
	ASAN_OPTIONS=detect_leaks=1:exitcode=23 UBSAN_OPTIONS=print_stacktrace=1

.PHONY: all deps build release asan test test-debug test-asan conformance fuzz bench-ingest bench-classifier demo stop clean

all: build

deps:
	deploy/install-deps.sh

build: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(BUILD_DIR)

# The optimised build the benchmarks measure.
release: deps
	cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DZWGK_BUILD_TESTS=OFF
	cmake --build build-release

asan: deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Asan
	cmake --build $(ASAN_DIR)

# Unit tests, then the schema and end-to-end suites against a private stack,
# which is stopped afterwards whatever pytest said; the exit status is pytest's.
# Then the same unit and end-to-end tests once more on the sanitizer build.
test: test-debug test-asan

test-debug: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure
	$(TEST_ENV) bash -c 'trap "$(STACK) down" EXIT; var/venv/bin/pytest -q tests/schemas tests/cli tests/conformance tests/e2e'

# The daemons of this stack are the ASan+UBSan binaries; a sanitizer report
# (including a leak at exit) makes a daemon exit non-zero, which the restart
# tests see, and any report in a daemon's log fails the target. The suites
# here drive every daemon, adapter and zwgkctl command through their paths;
# the long ones that repeat the same paths many times (the 20,000-record copy,
# the adapters' fault catalogues, the page checks in Java and Chromium) run
# once, in test-debug, to keep `make test` under twenty minutes.
ASAN_E2E := $(addprefix tests/e2e/,test_pipeline.py test_revisions.py test_privacy.py \
	test_interpretation.py test_embargo.py test_classifier.py test_ingest.py test_channels.py \
	test_zwgkctl_review.py test_zwgkctl_trace.py test_zwgkctl_catalog.py test_zwgkctl_ops.py)
test-asan: asan
	ctest --test-dir $(ASAN_DIR) --output-on-failure
	$(ASAN_TEST_ENV) bash -c 'trap "$(STACK) down" EXIT; var/venv/bin/pytest -q tests/conformance $(ASAN_E2E)'
	! grep -l -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" $(CURDIR)/var/test-asan/log/zwgk-*.log

# The C validator against release.v1's JSON Schema (tests/conformance).
conformance: build
	var/venv/bin/pytest -q tests/conformance

# libFuzzer targets (tests/fuzz), FUZZ_SECONDS each; fails on any crash, leak or
# sanitizer report. Corpora and crash inputs stay in build-fuzz/.
FUZZ_SECONDS ?= 60
fuzz:
	deploy/install-deps.sh --fuzz
	tests/fuzz/run.sh $(FUZZ_SECONDS)

# The ingest benchmark (docs/performance.md): about two minutes on a private stack
# in var/bench (port base 25000) and nginx on 127.0.0.1:25090, Release build.
bench-ingest: release
	deploy/install-deps.sh --bench
	ZWGK_BUILD_DIR=$(CURDIR)/build-release tests/bench/ingest/run.sh

# The classifier benchmark (docs/performance.md): zwgk-classifier alone against
# Kafka's own ProducerPerformance/ConsumerPerformance, a few minutes on a private
# stack in var/bench-classifier (port base 25500), Release build.
bench-classifier: release
	deploy/install-deps.sh --bench
	ZWGK_BUILD_DIR=$(CURDIR)/build-release tests/bench/classifier/run.sh

demo: build
	$(DEMO_STACK_ENV) $(STACK) up
	$(DEMO_STACK_ENV) deploy/local/demo.sh

stop:
	$(DEMO_STACK_ENV) $(STACK) down

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) build-fuzz build-release
