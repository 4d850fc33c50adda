#!/usr/bin/env bash
# Runs every Go fuzz target of the module, one after the other (go test -fuzz takes one
# package and one target per run), each for FUZZTIME (default 60s; make fuzz), with
# FUZZPARALLEL workers (default 2). scripts/test.sh runs it with FUZZTIME=3s.
#
# A failing input is written by go test to <package>/testdata/fuzz/<Target>/: fix the
# bug and keep the file, which then runs as a regression test under plain go test.
# FUZZ=<regexp> runs only the targets whose name matches. (vet is off here: the test
# command runs go vet over everything first.)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-60s}"
parallel="${FUZZPARALLEL:-2}"
only="${FUZZ:-.}"

failed=()
n=0
while IFS=: read -r file target; do
  [[ "$target" =~ $only ]] || continue
  pkg="./$(dirname "$file")"
  echo "== fuzz $pkg $target ($fuzztime)"
  n=$((n + 1))
  if ! go test -vet=off -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -parallel "$parallel" "$pkg"; then
    failed+=("$pkg $target")
  fi
done < <(grep -rHo --include='*_test.go' --exclude-dir=.git '^func Fuzz[A-Za-z0-9_]*' . |
  sed -e 's|^\./||' -e 's|:func |:|' | sort)

if [ "$n" -eq 0 ]; then
  echo "fuzz: no target matches $only"; exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: failing targets (inputs in their testdata/fuzz/):"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "fuzz: $n targets, no failure"
