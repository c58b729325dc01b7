# nsflow — NetSuite calendar events through NATS JetStream.
# `make run` runs the whole pipeline on embedded defaults; `make test` runs the tests.

GO        ?= go
BIN       ?= bin
PKGS      ?= ./...
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
COMPOSE   ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo docker-compose; fi)
RUN_ARGS  ?=

.PHONY: all build run run-once test test-short test-integration fuzz bench vet fmt fmt-check check \
        binaries images up down clean

all: build

build:
	$(GO) build ./...

## run: the whole pipeline in one process (embedded NATS JetStream, NetSuite sandbox, SQLite in ./data)
run:
	$(GO) run ./cmd/nsflow run $(RUN_ARGS)

## run-once: load everything the sandbox has, print a summary, exit
run-once:
	$(GO) run ./cmd/nsflow run --once $(RUN_ARGS)

## test: every test tier that runs without Docker, with the race detector
test:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

## test-integration: container tests (locally built FROM scratch images; skipped without Docker)
test-integration:
	TESTCONTAINERS_RYUK_DISABLED=true $(GO) test -race -count=1 -tags=integration -timeout 30m $(PKGS)

## fuzz: a short run of every fuzz target
FUZZTIME ?= 20s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

## bench: Go benchmarks that print figures (no test asserts a speed)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 $(PKGS)

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

check: fmt-check vet test

## binaries: static binaries for the container images
binaries:
	mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./services/extractor ./services/transformer ./services/loader ./cmd/nsflow

clean:
	rm -rf $(BIN) data
