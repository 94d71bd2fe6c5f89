#!/usr/bin/env bash
# Kinesis read rate of eddy beside boto3 over the same stream, in
# interleaved pairs; prints each pair and the median ratio.
# Usage: export $(scripts/aws.sh up); scripts/aws/bench-read.sh EDDY_BINARY STREAM ENDPOINT [PAIRS]
# (the stream is read whole from trim_horizon until caught up, by
# `eddy tail kinesis://STREAM -e -f raw` and by client.py read: both
# whole processes, start-up included)
set -euo pipefail
bin=$1 stream=$2 endpoint=$3 pairs=${4:-5}
here=$(cd "$(dirname "$0")" && pwd)
now() { date +%s.%N; }
ratios=()
for i in $(seq 1 "$pairs"); do
  t0=$(now); n1=$("$bin" tail "kinesis://$stream?endpoint=$endpoint" -e -f raw | wc -l); t1=$(now)
  n2=$(EDDY_TEST_KINESIS_ENDPOINT=$endpoint "$EDDY_TEST_AWS_PYTHON" "$here/client.py" read "$stream" 2>/dev/null); t2=$(now)
  e=$(echo "$t1 - $t0" | bc -l); b=$(echo "$t2 - $t1" | bc -l)
  [ "$n1" = "$n2" ] || { echo "eddy read $n1 records, boto3 $n2" >&2; exit 1; }
  r=$(echo "$b / $e" | bc -l)
  printf 'pair %d: %d records  eddy %.2fs (%.0f/s)  boto3 %.2fs (%.0f/s)  boto3/eddy time %.2f\n' "$i" "$n1" "$e" "$(echo "$n1 / $e" | bc -l)" "$b" "$(echo "$n2 / $b" | bc -l)" "$r"
  ratios+=("$r")
done
printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {printf "median boto3/eddy time ratio over %d pairs: %.2f\n", NR, a[int((NR+1)/2)]}'
