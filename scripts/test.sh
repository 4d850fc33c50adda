#!/usr/bin/env bash
# The README's test command (make test). It makes sure what the tests need is there —
# a reachable PostgreSQL — and runs vet, gofmt, every test with the race detector, and
# a short run of each fuzz target (FUZZTIME, default 3s each; FUZZTIME=0 skips it).
# With CI set, tests that need a service fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

export GATEHOUSE_TEST_POSTGRES="${GATEHOUSE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"

./scripts/deps.sh

echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 30m ./... "$@"

if [ "${FUZZTIME:-3s}" != "0" ]; then
  echo "== fuzz, ${FUZZTIME:-3s} per target (make fuzz runs them longer)"
  FUZZTIME="${FUZZTIME:-3s}" ./scripts/fuzz.sh
fi
