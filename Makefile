# shipsync — see README.md. The two commands a newcomer needs: `make demo` and `make test`.
GO      ?= go
MODULE  := $(shell $(GO) list -m)
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: all build test test-unit testenv-up testenv-down demo demo-split chaos bench bench-quick lint fuzz clean
.PHONY: image image-test

all: build

build:
	$(GO) build -o bin/shipsync ./cmd/shipsync

## test: install promtool and chromium when missing (apt-get, as root), start MariaDB + Redis
## (installing them the same way), run every test, stop what was started.
test:
	bash deploy/install-tools.sh
	bash testenv/with.sh $(GO) test $(TESTFLAGS) ./...

## test-unit: tests that need nothing running.
test-unit:
	bash deploy/install-tools.sh
	$(GO) test $(TESTFLAGS) -short ./...

testenv-up:
	bash testenv/up.sh

testenv-down:
	bash testenv/down.sh

## demo: the main job on local defaults: testenv, demo shop, simulator, daemon, orders paid.
## PRESET=opencart (or any of shipsync init --list) runs that shop system's preset on its
## fixture instead: orders paid the way that shop pays, shipped, a SIGKILL, pushes, and what the
## shop holds afterwards.
demo: build testenv-up
ifdef PRESET
	SHIPSYNC_DEMO=1 $(GO) test -count=1 -v -run '(?i)^TestPreset$(subst -,,$(PRESET))$$/^fixture$$' ./presets | \
		grep -v '^\s*{"time"' | sed -e 's/^ *preset_integration_test.go:[0-9]*: //'
else
	$(GO) run ./testenv/demo/run
endif

## demo-split: the same in split mode: a fake Kafka (kfake), one reader and two workers.
demo-split: build testenv-up
	$(GO) build -o bin/kfake ./testenv/kafka/cmd/kfake
	$(GO) run ./testenv/demo/run -split

## chaos: 20,000 orders paid in one transaction, then the long chaos suite (2,000 orders, 40
## faults at random moments from a printed seed: daemon, MariaDB and Redis SIGKILLs, carrier
## failures; SHIPSYNC_CHAOS_SEED=N replays) on its own MariaDB and Redis; prints a one-line
## verdict. make test runs a short form of both.
chaos:
	bash deploy/install-tools.sh
	SHIPSYNC_LARGE_TX=20000 bash testenv/with.sh $(GO) test -count=1 -v -timeout 20m -run TestLargeTransaction ./sync/pipeline
	bash -o pipefail -c "SHIPSYNC_CHAOS=long $(GO) test -count=1 -v -timeout 30m -run TestChaos ./testenv/chaos | grep -E 'chaos verdict|chaos seed|^(---|ok|FAIL|PASS)'"

## bench: every scenario of DESIGN.md §7 at full size (~11 min) on a private MariaDB + Redis (free
## ports, temp dir, purged at the end); prints a table, writes bench/results.json and profiles in
## bench/profiles/full. See docs/benchmarks.md. BENCHFLAGS adds flags, e.g. BENCHFLAGS='-only drain,ingest'.
bench:
	$(GO) run ./bench $(BENCHFLAGS)

## bench-quick: the same at smoke size (about a minute); bench/results-quick.json, bench/profiles/quick.
bench-quick:
	$(GO) run ./bench -scale quick $(BENCHFLAGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@bad=$$($(GO) list -f '{{.ImportPath}}: {{join .Imports " "}}' ./sources/... ./sinks/... | \
		awk -v m="$(MODULE)" '{ split($$1, p, "/"); dir = m "/" p[4]; for (i = 2; i <= NF; i++) \
			if (index($$i, m "/") == 1 && index($$i, dir "/") != 1) print $$1 " imports " $$i }'); \
		if [ -n "$$bad" ]; then echo "import direction: sources/ and sinks/ import nothing else from the module:"; echo "$$bad"; exit 1; fi
	@echo lint ok

## fuzz: every fuzz target in turn for FUZZTIME each (default 60s), from its seed corpus in the
## package's testdata/fuzz; make test runs only the seeds. A failing input is written to that
## testdata/fuzz directory: keep it as a seed once the bug is fixed.
FUZZTIME ?= 60s
FUZZ_TARGETS := FuzzParsePush:./sinks/carrier/kdniao FuzzParsePushJSON:./sinks/carrier/kdniao \
	FuzzParsePush:./sinks/carrier/signedjson FuzzParse:./sync/config FuzzCompile:./sinks/shopdb \
	FuzzRows:./sources/binlog FuzzParsePush:./sinks/carrier/xml FuzzParsePushXML:./sinks/carrier/xml
fuzz:
	@failed=; for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; pkg=$${t#*:}; echo "== $$name $$pkg ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || failed="$$failed $$name"; \
	done; if [ -n "$$failed" ]; then echo "fuzz failed:$$failed"; exit 1; fi

## image: the container image localhost/shipsync:latest (IMAGE=... for another tag), built with
## podman from deploy/Dockerfile without a registry: the static binary and the host's CA bundle on
## FROM scratch (deploy/build-image.sh). podman is installed when missing.
IMAGE ?= localhost/shipsync:latest
image:
	bash deploy/install-tools.sh
	GO=$(GO) bash deploy/build-image.sh $(IMAGE)

## image-test: builds the image and checks it for real against the testenv MariaDB and Redis: its
## files (the binary and the CA bundle only), the exported entrypoint run as uid 65532, and the
## container itself under `podman run` (required here: SHIPSYNC_IMAGE_RUN=1); each ships an order
## and answers /readyz. deploy/README.md says where `podman run` cannot work.
image-test: testenv-up
	bash deploy/install-tools.sh
	SHIPSYNC_IMAGE_RUN=1 $(GO) test -count=1 -v -timeout 5m -run '^TestImage$$' ./deploy

clean:
	rm -rf bin
