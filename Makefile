# sdatasync: make run (provider with demo data on 127.0.0.1:8080), make test.
GO      ?= go
BIN     := bin/sdatasync
PKGS    := ./...

.PHONY: build run test bench bench-pass lint fuzz chaos clean

build:
	$(GO) build -o $(BIN) ./cmd/sdatasync

run: build
	$(BIN) serve --demo

test: lint
	$(GO) test -race -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# A full pass of 100k trading accounts between two local providers, then an
# incremental pass of 100 changes (entries/s, bytes on the wire, peak RSS).
bench-pass: build
	$(BIN) bench --resources 100000 --changes 100

# The incremental pass (100 changes, and none; median of 5) at 10k, 100k and
# 1M resources in one run, each after its full pass. Seeding 1M through the
# store takes 3.5 to 8 minutes on the development machine (2 cores).
.PHONY: bench-sizes bench-1m bench-api
bench-sizes: build
	$(BIN) bench --sizes 10000,100000,1000000 --repeat 5

# 1M resources in one command; the databases stay in data/bench-1m, and a
# second run reuses them (no seeding, no full pass: incremental passes only).
bench-1m: build
	$(BIN) bench --resources 1000000 --changes 100 --repeat 5 --dir data/bench-1m --keep --reuse

# The resource API on 1M resources under 1, 16 and 200 clients (seeded once
# into data/bench-api, then reused).
bench-api: build
	$(BIN) bench api --resources 1000000 --dir data/bench-api --keep --reuse

# Short fuzz runs of every fuzz target (FUZZTIME=30s for longer).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Long convergence soak: every topology, bigger clusters, SOAK_SEEDS seeds
# from SOAK_SEED on (go test ./sdata/converge -run Soak -args -soak ...).
SOAK_SEED  ?= 20261122
SOAK_SEEDS ?= 4
soak:
	$(GO) test ./sdata/converge -run Soak -count=1 -timeout 60m -v -args -soak -seed=$(SOAK_SEED) -seeds=$(SOAK_SEEDS)

# kill -9 campaign (not in make test): source, target and engine killed at
# random under concurrent writes, CHAOS_ROUNDS rounds of CHAOS_KILLS kills,
# each round checked (nothing acknowledged lost, no duplicate, converged
# digests, integrity_check ok). See sdata/chaos.
CHAOS_ROUNDS ?= 5
CHAOS_KILLS  ?= 25
chaos: build
	$(GO) test ./sdata/chaos -run Chaos -count=1 -timeout 60m -v -args -chaos -bin $(abspath $(BIN)) -rounds $(CHAOS_ROUNDS) -kills $(CHAOS_KILLS)

# Two providers (crm on :8081, erp on :8082, demo data), one pass --both
# between them; they keep running until make demo-stop.
demo: build
	sh cmd/sdatasync/demo.sh $(BIN)

demo-stop:
	sh cmd/sdatasync/demo.sh stop

clean:
	rm -rf bin data
