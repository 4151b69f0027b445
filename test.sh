#!/usr/bin/env bash
# The README's test command, and CI's (.ci/run calls it): installs what the tests need, runs every test of the
# solution, and ends with a plain "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")"
# The browser tests drive Debian's Chromium through Playwright (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    echo "test.sh: the browser tests need Debian's chromium; install it with 'apt-get install chromium' and run again." >&2
    exit 2
  fi
fi
log=$(mktemp)
dotnet test Remat.slnx --configuration Release 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
skipped=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
# The GPU tests (tests/Remat.Gpu.Tests) skip where CUDA does not start; dotnet test lists them without the reason.
if grep -q 'Remat.Gpu.Tests.*\[SKIP\]' "$log"; then
  echo "test.sh: the GPU tests were skipped: no CUDA device here (CI has none). They run on a GPU machine: bench/gpu/run.sh."
fi
rm -f "$log"
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
