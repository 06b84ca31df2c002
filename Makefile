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
ASAN_RUN_ENV := ZWGK_BUILD_DIR=$(CURDIR)/$(ASAN_DIR) \
	ASAN_OPTIONS=detect_leaks=1:exitcode=23 UBSAN_OPTIONS=print_stacktrace=1
ASAN_TEST_ENV := env $(addprefix -u ,$(CLIENT_VARS)) ZWGK_STACK_DIR=$(CURDIR)/var/test-asan \
	ZWGK_STACK_PORT_BASE=27000 $(ASAN_RUN_ENV)
ASAN_FULL_TEST_ENV := env $(addprefix -u ,$(CLIENT_VARS)) ZWGK_STACK_DIR=$(CURDIR)/var/test-asan-full \
	ZWGK_STACK_PORT_BASE=26000 $(ASAN_RUN_ENV)
# A sanitizer report in a daemon's log (the daemons' stderr).
SANITIZER_REPORT := "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:"

.PHONY: all deps build release asan deb test test-debug test-asan test-asan-full conformance fuzz test-faults bench bench-tune bench-ingest bench-classifier demo stop clean

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

# The Debian packages zwgk-daemons, zwgkctl and zwgk-common (docs/install.md).
# dpkg-buildpackage runs in a copy of the tree under var/deb/src, so the build
# leaves nothing in the tree itself; the .deb, .changes and .buildinfo files
# end in var/deb/. Then lintian: any error (E:) fails the target, warnings are
# printed.
DEB_DIR := var/deb
deb:
	deploy/install-deps.sh --deb
	rm -rf $(DEB_DIR)/src
	mkdir -p $(DEB_DIR)/src/zwgk
	tar -c --exclude-vcs --exclude=./var --exclude=./build --exclude='./build-*' \
		--exclude=__pycache__ --exclude=.pytest_cache -f - . | tar -x -C $(DEB_DIR)/src/zwgk
	cd $(DEB_DIR)/src/zwgk && dpkg-buildpackage -us -uc -b -Jauto
	rm -f $(DEB_DIR)/*.deb $(DEB_DIR)/*.changes $(DEB_DIR)/*.buildinfo
	mv $(DEB_DIR)/src/*.deb $(DEB_DIR)/src/*.changes $(DEB_DIR)/src/*.buildinfo $(DEB_DIR)/
	lintian --fail-on error --tag-display-limit 0 $(DEB_DIR)/*.changes

# Unit tests, then the schema and end-to-end suites against a private stack,
# which is stopped afterwards whatever pytest said; the exit status is pytest's.
# Then the Debian packages (tests/deb), which runs make deb first when var/deb
# has none or they are older than a source they are built from (about twenty
# seconds on two cores, plus the first install of debhelper and lintian).
# Then the same unit and end-to-end tests once more on the sanitizer build.
test: test-debug test-asan

test-debug: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure
	$(TEST_ENV) bash -c 'trap "$(STACK) down" EXIT; var/venv/bin/pytest -q tests/schemas tests/cli tests/conformance tests/e2e'
	var/venv/bin/pytest -q tests/deb

# The daemons of this stack are the ASan+UBSan binaries; a sanitizer report
# (including a leak at exit) makes a daemon exit non-zero, which the restart
# tests see, and any report in a daemon's log fails the target. The suites
# here drive every daemon, adapter and zwgkctl command through their paths;
# the long ones that repeat the same paths many times (the 20,000-record copy,
# the adapters' fault catalogues, the page checks in Java and Chromium) run
# once, in test-debug, to keep `make test` under twenty minutes.
# test-asan-full runs every suite of test-debug on the sanitizer build, the
# long ones too, on a stack of its own (var/test-asan-full, port base 26000);
# ten to fifteen minutes on two cores, not part of `make test`.
# tests/e2e/test_valgrind.py skips itself on the sanitizer build (valgrind
# cannot run an ASan binary); test-debug runs it.
ASAN_E2E := $(addprefix tests/e2e/,test_pipeline.py test_revisions.py test_privacy.py \
	test_interpretation.py test_embargo.py test_classifier.py test_ingest.py test_channels.py \
	test_zwgkctl_review.py test_zwgkctl_trace.py test_zwgkctl_catalog.py test_zwgkctl_ops.py \
	test_abuse.py)
test-asan: asan
	ctest --test-dir $(ASAN_DIR) --output-on-failure
	$(ASAN_TEST_ENV) bash -c 'trap "$(STACK) down" EXIT; var/venv/bin/pytest -q tests/conformance $(ASAN_E2E)'
	! grep -l -E $(SANITIZER_REPORT) $(CURDIR)/var/test-asan/log/zwgk-*.log

test-asan-full: asan
	ctest --test-dir $(ASAN_DIR) --output-on-failure
	$(ASAN_FULL_TEST_ENV) bash -c 'trap "$(STACK) down" EXIT; var/venv/bin/pytest -q tests/schemas tests/cli tests/conformance tests/e2e'
	! grep -l -E $(SANITIZER_REPORT) $(CURDIR)/var/test-asan-full/log/zwgk-*.log

# The C validator against release.v1's JSON Schema (tests/conformance).
conformance: build
	var/venv/bin/pytest -q tests/conformance

# libFuzzer targets (tests/fuzz), FUZZ_SECONDS each (make fuzz FUZZ_SECONDS=600 for
# ten minutes each); fails on any crash, leak or sanitizer report. They start from
# tests/fuzz/corpus and tests/fuzz/regressions (which ctest replays); what they add
# and crash inputs stay in build-fuzz/.
FUZZ_SECONDS ?= 60
fuzz:
	deploy/install-deps.sh --fuzz
	tests/fuzz/run.sh $(FUZZ_SECONDS)

# The fault suite (docs/reliability.md): a 3-node Kafka cluster, PostgreSQL,
# every daemon and the stand-ins in var/faults (port base 26500); per fault a
# load of 20,000 requests with the fault at 20, 50 and 80 % of it, then the
# invariants, on the Release build. About an hour and a half; writes its table
# into docs/reliability.md row by row.
# FAULTS=name,... runs some of them (tests/faults/run.py --help).
FAULTS ?=
test-faults: release
	bash -c 'trap "ZWGK_STACK_DIR=$(CURDIR)/var/faults $(STACK) down" EXIT; \
		env $(addprefix -u ,$(CLIENT_VARS)) ZWGK_BUILD_DIR=$(CURDIR)/build-release \
		var/venv/bin/python tests/faults/run.py --only "$(FAULTS)"'

# The end-to-end benchmark (docs/performance.md): releases through every daemon to
# the stand-ins, at the maximum and open loop at 50 and 80 % of it, against Kafka's
# own tools and nginx on the same machine; about five minutes on a private stack in
# var/bench-e2e (port base 24000), Release build. Results, table and plots in
# var/bench-results/e2e. Knobs (BENCH_RELEASES, BENCH_SECONDS, ...) at the top of
# tests/bench/e2e/run.sh.
bench: release
	deploy/install-deps.sh --bench
	env $(addprefix -u ,$(CLIENT_VARS)) ZWGK_BUILD_DIR=$(CURDIR)/build-release tests/bench/e2e/run.sh

# The tuning table (docs/performance.md): the end-to-end benchmark, shorter, once
# per setting of tests/bench/e2e/tune.sh (SETTINGS="default interval100 ..." for some), about
# three minutes each; the table in var/bench-results/tune/tune.txt.
bench-tune: release
	deploy/install-deps.sh --bench
	env $(addprefix -u ,$(CLIENT_VARS)) ZWGK_BUILD_DIR=$(CURDIR)/build-release tests/bench/e2e/tune.sh $(SETTINGS)

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
