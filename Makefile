# The two commands of the README:
#   make run   - fetch the embedded ClickHouse engine if missing, build, serve
#   make test  - the whole test suite (what CI runs)
GO        ?= go
BIN       := bin/cdp
VERSION   := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# Each fuzz target runs this many inputs in `make test` (CI); more or
# longer by hand: make fuzz FUZZTIME=5m. A count rather than a duration:
# Go 1.26's fuzz coordinator can fail a target with a bare "context
# deadline exceeded" when a duration ends while a worker is busy
# (golang/go#75804, fixed in Go 1.27), which a loaded CI machine hit.
# 8,000 inputs take 2-10 s a target here (the suite's time budget is 20
# minutes; 20,000 took 2 min 15 s in all on a quiet machine).
FUZZTIME  ?= 8000x

.PHONY: run build test unit fuzz bench bench-cluster vet console console-test e2e-deps test-cluster test-cluster-ci

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

# The browser test (cmd/cdp TestConsoleInHeadlessChromium) needs Debian's
# chromium (.ci/run installs it) and playwright-core in web/e2e.
test: e2e-deps console-test vet unit fuzz test-cluster-ci

# Rebuilds the console into web/dist, which is committed and embedded in the
# binary (Go builds and tests never need Node). Not part of `make test`.
console:
	cd web/console && npm ci --no-audit --no-fund && npm run build

# The console's own checks, in seconds: its unit tests (vitest) and that
# src/api.gen.ts is what openapi-typescript makes of api/openapi.json
# (after editing openapi.json: cd web/console && npm run api-types).
console-test: web/console/node_modules/.package-lock.json
	cd web/console && npm run --silent check-api-types && npm test --silent

web/console/node_modules/.package-lock.json: web/console/package-lock.json web/console/package.json
	cd web/console && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# playwright-core for the browser test; npm ci runs only when the lock file
# changed since the last install.
e2e-deps: web/e2e/node_modules/.package-lock.json
	@test -x /usr/bin/chromium || echo "note: /usr/bin/chromium missing: the browser test will fail; run .ci/run or apt-get install chromium chromium-driver (or set CDP_SKIP_BROWSER_TESTS=1)"

web/e2e/node_modules/.package-lock.json: web/e2e/package-lock.json web/e2e/package.json
	cd web/e2e && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The integration suites on a 2-shard cluster of embedded engines on
# loopback (the sharded flavour of cluster mode, docs/scale-out.md): each
# test binary starts two engines configured as one cluster
# (CDP_TEST_CLUSTER=2, store/storetest) and makes every test database on
# both, Distributed tables in front. One package at a time: each binary
# runs two engines.
CLUSTER_PKGS ?= ./store ./schema ./ingest ./identity ./segments ./campaigns ./analytics ./journeys ./api ./demand ./wecomops
test-cluster:
	CDP_TEST_CLUSTER=2 $(GO) test -count=1 -p 1 -timeout 90m $(CLUSTER_PKGS)
	$(GO) test -count=1 -run 'TestEngineCommandsFormAShardedCluster|OneEngineAndCluster|MoveOneEngineToCluster' ./cmd/cdp ./store ./segments ./campaigns ./api

# The representative subset CI runs (see docs/scale-out.md for times). The
# tests that start their own engines (the one-engine/cluster comparisons,
# the move, `cdp engine`) are not repeated here: `make unit` runs them.
test-cluster-ci:
	CDP_TEST_CLUSTER=2 $(GO) test -count=1 -p 1 -timeout 20m -run 'Sharded|Distributed|Erasure|Unmerge|RandomRulesMatchSQL|CampaignEndToEnd|ResultsFollowMerges|Profile|SignalsMatchRawRows' ./store ./identity ./segments ./campaigns ./demand

# The scale-out figures (docs/scale-out.md, Measurements): the 5-clause
# rule cold and warm, the ingest pipeline and a campaign's planning, each
# on one engine and then on a 2-shard cluster started beside it, in one
# run. BENCH_PERSONS persons (the rule's world has twenty times as many
# events), PIPE_RECORDS records through the pipeline.
BENCH_PERSONS ?= 200000
PIPE_RECORDS ?= 200000
bench-cluster:
	CDP_BENCH_COMPARE=1 CDP_BENCH_PERSONS=$(BENCH_PERSONS) CDP_PIPE_EVENTS=$(PIPE_RECORDS) $(GO) test -p 1 -run '^$$' \
	  -bench 'FiveClauseRule200K$$|Pipeline$$|CampaignPlan$$' -benchtime 3x -timeout 3h ./segments ./ingest ./campaigns

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
