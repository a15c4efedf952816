# The two commands of the README:
#   make run   - fetch the embedded ClickHouse engine if missing, build, serve
#   make test  - the whole test suite (what CI runs)
GO        ?= go
BIN       := bin/cdp
VERSION   := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# Each fuzz target runs this long in `make test` (CI); longer by hand:
#   make fuzz FUZZTIME=5m
FUZZTIME  ?= 5s

.PHONY: run build test unit fuzz bench vet

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/cdp

# The first run loads the demo data set (50,000 households) through the
# ingest API; later runs find data and skip it.
run: build
	$(BIN) serve --demo=auto

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (echo "gofmt would change:"; gofmt -l .; exit 1)

unit:
	$(GO) test -count=1 -timeout 20m ./...

# Runs every Fuzz* target in the module briefly.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

test: vet unit fuzz

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
