# connectware's build. `make test` is the whole suite; .ci/run calls it.
SHELL := /usr/bin/env bash -o pipefail
.DEFAULT_GOAL := test

BIN := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)
GO ?= go
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_CONNECT_GO_VERSION := v1.21.1
# FUZZTIME is how long `make test` fuzzes each target; `make fuzz` uses FUZZLONG.
FUZZTIME ?= 5s
FUZZLONG ?= 2m
BENCHTIME ?= 2s

.PHONY: deps test lint vet gotest fuzz-short fuzz bench bench-smoke gen check-gen tools clean

test: deps lint vet gotest fuzz-short bench-smoke check-gen ## The whole suite.

deps: ## Installs protoc, Chromium and redis-server when missing (apt).
	@./.ci/deps

lint: ## gofmt check.
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	cd benchmarks && $(GO) vet ./...

gotest:
	$(GO) test -race -count=1 ./...

# Every fuzz target, briefly. Targets are found with `go test -list`.
fuzz-short:
	@FUZZTIME=$(FUZZTIME) ./.ci/fuzz

fuzz:
	@FUZZTIME=$(FUZZLONG) ./.ci/fuzz

bench-smoke: ## The benchmarks module's tests, and one iteration of every benchmark.
	cd benchmarks && $(GO) test -count=1 -bench . -benchtime 1x -benchmem ./...

bench: ## The side-by-side table (benchmarks/README.md).
	cd benchmarks && $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem ./...

tools: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-connect-go

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(BIN)/protoc-gen-connect-go:
	GOBIN=$(BIN) $(GO) install connectrpc.com/connect/cmd/protoc-gen-connect-go@$(PROTOC_GEN_CONNECT_GO_VERSION)

# protoc resolves buf/validate/validate.proto from a descriptor set built from
# the Go module that ships it (see internal/cmd/validateset).
gen: deps tools
	@command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler"; exit 1; }
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(GO) run ./internal/cmd/validateset "$$tmp/validate.binpb" && \
	rm -rf internal/gen examples/gen && mkdir -p internal/gen examples/gen && \
	protoc --descriptor_set_in="$$tmp/validate.binpb" -I internal/proto \
		--go_out=internal/gen --go_opt=paths=source_relative \
		--connect-go_out=internal/gen --connect-go_opt=paths=source_relative \
		$$(cd internal/proto && find . -name '*.proto' | sed 's|^\./||' | sort) && \
	protoc --descriptor_set_in="$$tmp/validate.binpb" -I examples/proto \
		--go_out=examples/gen --go_opt=paths=source_relative \
		--connect-go_out=examples/gen --connect-go_opt=paths=source_relative \
		$$(cd examples/proto && find . -name '*.proto' | sed 's|^\./||' | sort)
	$(GO) generate ./grpchealth/... ./grpcreflect/...

GENERATED := internal/gen examples/gen grpchealth/internal/healthv1 grpcreflect/internal/reflectionv1 grpcreflect/services.binpb

check-gen: gen ## Fails when the committed generated code is stale.
	@git diff --exit-code --stat -- $(GENERATED) || { echo "generated code is stale: run make gen and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- $(GENERATED))" || { git status --porcelain -- $(GENERATED); echo "generated code is stale: run make gen and commit"; exit 1; }

clean:
	rm -rf $(BIN)
