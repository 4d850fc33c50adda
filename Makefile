# Gatehouse — the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/gatehouse

.PHONY: run build test test-deps lint fuzz bench bench-go bench-proxy vulncheck clean

build:
	@echo "== building $(BIN): the first build downloads and compiles Caddy and takes a few minutes; packages are listed as they compile"
	CGO_ENABLED=0 $(GO) build -v -trimpath -o $(BIN) ./cmd/gatehouse

## run: the gateway on http://localhost:8080 (embedded SQLite in ./data, demo upstream)
run: build
	mkdir -p data
	./$(BIN) run --config Caddyfile.example --adapter caddyfile

## test: every test, with the race detector, against real PostgreSQL (started if needed)
test:
	./scripts/test.sh

## fuzz: every Go fuzz target in turn, FUZZTIME each (default 60s; e.g. make fuzz FUZZTIME=10m FUZZ=Verify)
fuzz:
	FUZZTIME=$(or $(FUZZTIME),60s) FUZZ='$(FUZZ)' ./scripts/fuzz.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1)
	$(GO) vet ./...

## bench: hot-path Go benchmarks, then plain reverse_proxy, the same carrying the headers, Gatehouse
## (default and every header) and an in-process peer in one run; Gatehouse's own CPU from a profile
bench: bench-go bench-proxy

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

bench-proxy: build
	$(GO) run ./bench/proxybench -binary $(BIN)
	$(GO) run ./bench/proxybench -binary $(BIN) -variants B -rounds 3 -profile B
	$(GO) run ./bench/proxybench -binary $(BIN) -flood

vulncheck:
	$(GO) run golang.org/x/vuln/cmd/govulncheck@latest ./... || echo "govulncheck could not run (is its database reachable?)"

clean:
	rm -rf bin data
