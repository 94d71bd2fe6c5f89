#!/usr/bin/env bash
# eddy against DuckDB on one core (issue 18 item 1; docs/performance.md,
# "One core against DuckDB"): five workloads over 2 M nexmark bids, whole
# processes pinned to CPU 0 (DuckDB threads = 1), rows checked equal,
# interleaved pairs, median ratios printed.
#
#   scripts/bench-vs-duckdb.sh [-pairs N] [-count N] [-only tumbling,filter] [-dir DIR] [-workers N]
#
# With -workers N (N > 1, issue 18 item 2): eddy --workers N on CPUs 0..N-1
# against eddy --workers 1 on CPU 0 and DuckDB with N threads on CPUs
# 0..N-1, interleaved rounds, the N-worker output checked byte for byte
# against the one-worker output; the load average is printed before and
# after (the machine may be shared).
#
# The input files are generated once into DIR (default /tmp/bench-duck,
# about 0.8 GB for 2 M bids) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN:-/tmp/bench-duck/bin}
mkdir -p "$bin"
go build -o "$bin/eddy" .
go build -o "$bin/benchduck" ./scripts/benchduck
exec nice "$bin/benchduck" -eddy "$bin/eddy" "$@"
