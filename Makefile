# bcreg-events: build, test, run, lint, bench.
# Workspace-wide Go commands use the `work` pattern: `./...` fails at the
# go.work root because the root is not a module.

GO        ?= go
BIN       := $(CURDIR)/bin
SERVICES  := event-poller credential-builder poster vonx-sim bcregctl
# Every module of go.work (the dev kit's and the test-only ones included),
# as directories relative to the root.
MODULES   := $(shell sed -n 's,^[[:space:]]*\./,,p' go.work)
# Concurrency-heavy packages run under the race detector.
RACE_PKGS := github.com/bcgov/bcreg-events/pkg/bus/... \
             github.com/bcgov/bcreg-events/pkg/test/bus/... \
             github.com/bcgov/bcreg-events/pkg/devkit/agentsim/... \
             github.com/bcgov/bcreg-events/pkg/lifecycle/... \
             github.com/bcgov/bcreg-events/services/bcregctl/test/console/... \
             github.com/bcgov/bcreg-events/services/poster/... \
             github.com/bcgov/bcreg-events/services/credential-builder/... \
             github.com/bcgov/bcreg-events/services/event-poller/...
TEST_FLAGS ?= -count=1 -timeout 30m

# The build every binary carries (pkg/buildinfo): the release from VERSION
# (the one place; deploy/k8s's image tags must equal it, deploy's
# TestVersionIsOne checks), the commit as git describe gives it (-dirty when
# the tree has changes) and the commit's date. The Dockerfiles take the
# same three (VERSION copied, the rest as build arguments).
VERSION   := $(shell cat VERSION)
COMMIT    ?= $(shell git describe --always --dirty --abbrev=12 --exclude '*' 2>/dev/null || echo unknown)
DATE      ?= $(shell git show -s --format=%cI HEAD 2>/dev/null || echo unknown)
BUILDINFO := github.com/bcgov/bcreg-events/pkg/buildinfo
LDFLAGS   := -X $(BUILDINFO).Version=$(VERSION) -X $(BUILDINFO).Commit=$(COMMIT) -X $(BUILDINFO).Date=$(DATE)

.PHONY: all build version test test-race test-rest test-cluster run lint golangci-lint bench bench-micro clean

all: build

## build: compile every service, and the dev kit's bcreg-dev, into ./bin/
build:
	@mkdir -p $(BIN)
	@for s in $(SERVICES); do \
		echo "build $$s"; \
		(cd services/$$s && $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/$$s .) || exit 1; \
	done
	@echo "build bcreg-dev"; cd pkg/devkit/cmd/bcreg-dev && $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/bcreg-dev .

## version: the build the binaries carry
version:
	@echo "$(VERSION) (commit $(COMMIT), $(DATE))"

## test: every package of the workspace; concurrency-heavy ones with -race.
## Needs Go and the PostgreSQL server binaries (initdb, pg_ctl); NATS runs
## embedded in the test processes. End-to-end tests use the binaries in ./bin.
test: build
	$(GO) vet work
	$(GO) vet -tags testcontainers github.com/bcgov/bcreg-events/pkg/testkit/testenv
	$(MAKE) test-race test-rest

test-race:
	$(GO) test $(TEST_FLAGS) -race $(RACE_PKGS)

test-rest:
	BCREG_E2E_BIN=$(BIN) $(GO) test $(TEST_FLAGS) -skip '^TestCluster' $$($(GO) list work | grep -v -E '$(subst $(space),|,$(strip $(basename $(subst /...,,$(RACE_PKGS)))))')

space := $(empty) $(empty)

## test-cluster: the end-to-end fault tests on a 3-node JetStream cluster
## (R3; docs/design/cluster.md): leader kills, a node lost, quorum lost, a
## rolling restart. Apart from `make test` for time; .ci/run runs both.
CLUSTER_PKG := github.com/bcgov/bcreg-events/pkg/devkit/e2e
test-cluster: build
	BCREG_E2E_BIN=$(BIN) $(GO) test $(TEST_FLAGS) -run '^TestCluster' $(CLUSTER_PKG)

## run: the whole pipeline on an embedded default (see README); RUN_ARGS
## passes bcreg-dev run's flags (e.g. --nats-port 4333).
run: build
	$(BIN)/bcreg-dev run $(RUN_ARGS)

GOLANGCI_VERSION := v2.15.0
GOLANGCI         := $(BIN)/golangci-lint

# Installed into bin/ only when missing or a different version.
golangci-lint:
	@if ! $(GOLANGCI) version 2>/dev/null | grep -q 'version $(patsubst v%,%,$(GOLANGCI_VERSION)) '; then \
		echo "installing golangci-lint $(GOLANGCI_VERSION) into $(BIN)"; \
		GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION); \
	fi

## lint: gofmt, go vet and golangci-lint (.golangci.yml: layering rules,
## unused, errorlint, revive) over every module, each alone (GOWORK=off).
lint: golangci-lint
	@out=$$(gofmt -l pkg services deploy); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do \
		echo "vet + golangci-lint $$m (GOWORK=off)"; \
		(cd $$m && GOWORK=off $(GO) build ./... && GOWORK=off $(GO) vet ./... && \
			GOWORK=off $(GOLANGCI) run --config $(CURDIR)/.golangci.yml ./...) || exit 1; \
	done

## bench: benchmarks at registry scale into docs/benchmarks/YYYY-MM-DD-<N>.md
## (see README): N = BENCH_CORPS (default 100,000); BENCH_LARGE=1 adds
## staging and posting at N = 1,000,000. Runs bench-micro first.
BENCH_CORPS ?= 100000
BENCH_LARGE ?=
BENCH_DIR   := $(CURDIR)/.data/bench
BENCH_MICRO := github.com/bcgov/bcreg-events/pkg/messages \
               github.com/bcgov/bcreg-events/pkg/devkit/microbench

bench: build bench-micro
	BENCH_CORPS=$(BENCH_CORPS) BENCH_LARGE=$(BENCH_LARGE) $(BIN)/bcreg-dev bench --bin $(BIN) --data-dir $(BENCH_DIR) --micro $(BENCH_DIR)/micro.txt

## bench-micro: the Go micro-benchmarks, one test binary at a time (-p 1);
## output in .data/bench/micro.txt, the poster's halving trace beside it.
bench-micro:
	@mkdir -p $(BENCH_DIR)
	@: > $(BENCH_DIR)/micro.txt
	@rm -f $(BENCH_DIR)/poster-adaptive-halved.svg
	@export BENCH_PLOT=$(BENCH_DIR); run() { echo "go test $$*"; $(GO) test -count=1 -p 1 -timeout 30m -run '^$$' "$$@" >> $(BENCH_DIR)/micro.txt 2>&1 \
		|| { cat $(BENCH_DIR)/micro.txt; exit 1; }; }; \
	run -bench . -benchtime 2s $(BENCH_MICRO) && \
	run -bench BuilderInitialLoad -benchtime 2s github.com/bcgov/bcreg-events/services/credential-builder/test/builder && \
	run -bench 'AdaptiveConcurrency/goal1/' -benchtime 1x -count 3 github.com/bcgov/bcreg-events/services/poster/test/poster && \
	run -bench 'AdaptiveConcurrency/^[^g]' -benchtime 1x github.com/bcgov/bcreg-events/services/poster/test/poster
	@grep -E '^(Benchmark|pkg:|ok|FAIL)' $(BENCH_DIR)/micro.txt

clean:
	rm -rf $(BIN)
