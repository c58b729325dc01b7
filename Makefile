# nsflow — NetSuite calendar events through NATS JetStream.
# `make run` runs the whole pipeline on embedded defaults; `make test` runs the tests.

GO        ?= go
BIN       ?= bin
PKGS      ?= ./...
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
COMPOSE   ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo docker-compose; fi)
RUN_ARGS  ?=

.PHONY: all build run run-once test test-short test-integration fuzz bench bench-go vet fmt fmt-check check \
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
	@# Memory bounds are measured without the race detector's shadow memory.
	$(GO) test -count=1 -run '^TestMemoryBounded$$' ./pkg/sink/sqlite/

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

## bench: the pipeline benchmark (issue #7): prints one table, writes bench/results/latest.json.
## Sizes: BENCH_ARGS="-events 200000 -repeat 3 ..." (see go run ./bench/cmd/nsbench -h);
## PostgreSQL replay uses NSFLOW_TEST_POSTGRES_URL (.ci/postgres.sh prints one).
BENCH_ARGS ?=
bench:
	$(GO) run ./bench/cmd/nsbench $(BENCH_ARGS)

## bench-go: the packages' Go benchmarks, each once (figures only, no assertions)
bench-go:
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

## --- containers (deployments/): images, the compose stack -------------------
# Images are FROM scratch and built from the static binaries of `make
# binaries` plus nats-server (the go.mod version): no registry is needed.
IMAGE_REPO    ?= nsflow
IMAGE_TAG     ?= local
CA_BUNDLE     ?= /etc/ssl/certs/ca-certificates.crt
DOCKER        ?= docker
COMPOSE_DIR   := deployments/compose
# Compose files, relative to $(COMPOSE_DIR); the 3-node JetStream cluster:
#   make up COMPOSE_FILES="docker-compose.yml docker-compose.cluster.yml"
COMPOSE_FILES ?= docker-compose.yml
COMPOSE_PROJECT ?= nsflow
COMPOSE_CMD    = $(COMPOSE) -p $(COMPOSE_PROJECT) --project-directory $(COMPOSE_DIR) $(addprefix -f $(COMPOSE_DIR)/,$(COMPOSE_FILES))

.PHONY: logs ps cli

## images: $(IMAGE_REPO)/nsflow:$(IMAGE_TAG) (services + CLI) and $(IMAGE_REPO)/nats:$(IMAGE_TAG), FROM scratch
images: binaries
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(BIN)/ github.com/nats-io/nats-server/v2 ./build/healthcheck
	cp $(CA_BUNDLE) $(BIN)/ca-certificates.crt
	mkdir -p $(BIN)/rootfs/data $(BIN)/rootfs/tmp && chmod 1777 $(BIN)/rootfs/tmp
	$(DOCKER) build --build-arg VERSION=$(VERSION) -f build/nsflow.Dockerfile -t $(IMAGE_REPO)/nsflow:$(IMAGE_TAG) $(BIN)
	$(DOCKER) build --build-arg VERSION=$(VERSION) -f build/nats.Dockerfile -t $(IMAGE_REPO)/nats:$(IMAGE_TAG) $(BIN)

## up: the compose stack (NATS, sandbox, extractor, transformer, loader) in the background
up: images $(COMPOSE_DIR)/.env
	$(COMPOSE_CMD) up -d --remove-orphans
	@echo "ops: extractor :9091, transformer :9092, loader :9093 (/metrics /readyz); sandbox :8080; NATS :4222 (monitor :8222)"

$(COMPOSE_DIR)/.env:
	cp $(COMPOSE_DIR)/.env.example $@

## down: stop the stack (volumes kept; COMPOSE_DOWN_FLAGS=-v removes them)
COMPOSE_DOWN_FLAGS ?=
down:
	$(COMPOSE_CMD) down --remove-orphans $(COMPOSE_DOWN_FLAGS)

## logs: follow the stack's logs
logs:
	$(COMPOSE_CMD) logs -f --tail=100

ps:
	$(COMPOSE_CMD) ps

## cli: the operator CLI in the compose stack as the NATS admin, e.g. make cli CLI_ARGS="dlq list"
CLI_ARGS ?= status
cli:
	$(COMPOSE_CMD) run --rm --no-deps provision $(CLI_ARGS)
