#!/usr/bin/env bash
# Times the page's requests at 400 layers against two builds of `remat viz`, interleaved (A B A B ...):
#   bench/page-400.sh OLD_CLI_DLL NEW_CLI_DLL [rounds]
# Prints one line per request, build and round, then the median and range of each.
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
dotnet "$old" viz --port 5301 >/dev/null 2>&1 & a=$!
dotnet "$new" viz --port 5302 >/dev/null 2>&1 & b=$!
trap 'kill $a $b' EXIT
for port in 5301 5302; do # wait until both answer
  until curl -s -o /dev/null "localhost:$port/"; do sleep 1; done
done
time_request() { # port path body
  curl -s -o /dev/null -w '%{time_total}' -X POST "localhost:$1$2" -H 'content-type: application/json' -d "$3"
}
for r in $(seq "$rounds"); do
  for kind in uniform heterogeneous; do
    for build in old:5301 new:5302; do
      port=${build#*:}
      echo "tradeoff $kind ${build%%:*} $(time_request "$port" /api/tradeoff "{\"layers\":400,\"kind\":\"$kind\"}")"
      echo "plan $kind ${build%%:*} $(time_request "$port" /api/plan "{\"chain\":{\"layers\":400,\"kind\":\"$kind\"},\"strategy\":\"optimal\"}")"
    done
  done
done | tee /dev/stderr | python3 -c '
import sys, collections, statistics
times = collections.defaultdict(list)
for line in sys.stdin:
    request, kind, build, seconds = line.split()
    times[(request, kind, build)].append(float(seconds))
for key in sorted(times):
    t = sorted(times[key])
    print(" ".join(key) + f": median {statistics.median(t):.2f} s (range {t[0]:.2f}-{t[-1]:.2f}, {len(t)} runs)")
'
