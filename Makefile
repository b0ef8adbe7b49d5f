# bcreg-events: build, test, run, lint, bench.
# Workspace-wide Go commands use the `work` pattern: `./...` fails at the
# go.work root because the root is not a module.

GO        ?= go
BIN       := $(CURDIR)/bin
SERVICES  := event-poller credential-builder poster vonx-sim bcregctl
MODULES   := pkg deploy $(addprefix services/,$(SERVICES))
# Concurrency-heavy packages run under the race detector.
RACE_PKGS := github.com/bcgov/bcreg-events/pkg/bus/... \
             github.com/bcgov/bcreg-events/pkg/agentsim/... \
             github.com/bcgov/bcreg-events/pkg/lifecycle/... \
             github.com/bcgov/bcreg-events/services/poster/... \
             github.com/bcgov/bcreg-events/services/credential-builder/... \
             github.com/bcgov/bcreg-events/services/event-poller/...
TEST_FLAGS ?= -count=1 -timeout 30m

.PHONY: all build test test-race test-rest run lint bench clean

all: build

## build: compile every service into ./bin/
build:
	@mkdir -p $(BIN)
	@for s in $(SERVICES); do \
		echo "build $$s"; \
		(cd services/$$s && $(GO) build -trimpath -o $(BIN)/$$s .) || exit 1; \
	done

## test: every package of the workspace; concurrency-heavy ones with -race.
## Needs Go and the PostgreSQL server binaries (initdb, pg_ctl); NATS runs
## embedded in the test processes. End-to-end tests use the binaries in ./bin.
test: build
	$(GO) vet work
	$(GO) vet -tags testcontainers github.com/bcgov/bcreg-events/pkg/testenv
	$(MAKE) test-race test-rest

test-race:
	$(GO) test $(TEST_FLAGS) -race $(RACE_PKGS)

test-rest:
	BCREG_E2E_BIN=$(BIN) $(GO) test $(TEST_FLAGS) $$($(GO) list work | grep -v -E '$(subst $(space),|,$(strip $(basename $(subst /...,,$(RACE_PKGS)))))')

space := $(empty) $(empty)

## run: the whole pipeline on an embedded default (see README).
run: build
	$(BIN)/bcregctl dev

## lint: formatting, vet per module as it builds alone (GOWORK=off), and the
## testcontainers build tag.
lint:
	@out=$$(gofmt -l pkg services); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do \
		echo "vet $$m (GOWORK=off)"; \
		(cd $$m && GOWORK=off $(GO) build ./... && GOWORK=off $(GO) vet ./...) || exit 1; \
	done

## bench: performance figures into docs/benchmarks/ (see README).
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 3x github.com/bcgov/bcreg-events/pkg/... 

clean:
	rm -rf $(BIN)
