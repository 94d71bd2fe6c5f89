#!/usr/bin/env bash
# Runs two AWS emulators on the loopback interface for the Kinesis and S3
# integration tests (source/kinesis_integration_test.go,
# sink/s3_integration_test.go, cmd/aws_integration_test.go):
#   - S3: moto's server mode (PyPI moto[server]);
#   - Kinesis: kinesis-mock (npm kinesis-local, a Node build of
#     etspaceman/kinesis-mock), which reshards as Kinesis does: a split or
#     merged shard keeps its records, is closed (its last GetRecords has no
#     NextShardIterator and names the ChildShards). moto's Kinesis copies a
#     parent's records into its children on a reshard, so it is not used
#     for Kinesis.
# No Docker, no download sites: moto, boto3 (the independent client) and
# pyarrow (the independent Parquet reader) are pip-installed into a
# virtualenv, kinesis-local npm-installed, both in a cache dir.
#
# Usage: scripts/aws.sh COMMAND
#   up       install what is missing, start both servers and wait until they
#            serve; idempotent. On success prints EDDY_TEST_* lines
#            (KEY=VALUE, no quoting needed) on stdout; all progress goes to
#            stderr, so `export $(scripts/aws.sh up)` sets them in a shell.
#   down     stop the servers (SIGTERM, then SIGKILL) and delete the data dir
#   status   exit 0 if both servers run, 3 if not
#   logs [moto|kinesis] [N]  print the last N (100) lines of a server's log
#   env      print the EDDY_TEST_* lines
#   python   run the virtualenv's python (boto3, pyarrow): `python -c ...`
#   deps     only install into the cache
#
# Environment (all optional):
#   EDDY_AWS_HOME     cache root (virtualenv, node_modules) (default ~/.cache/eddy-aws)
#   EDDY_AWS_DATA     data dir (pids, logs)  (default /tmp/eddy-aws)
#   EDDY_AWS_PORT     moto (S3) port         (default 14566)
#   EDDY_AWS_KINESIS_PORT  kinesis-mock port (default 14568; TLS on +1)
#   EDDY_AWS_MOTO     moto version           (default 5.2.5)
#   EDDY_AWS_KINESIS_MOCK  kinesis-local version (default 0.6.2)
#   EDDY_AWS_TIMEOUT  seconds to wait for readiness (default 60)
#
# moto accepts any credentials; the env lines give the test ones
# (AWS_ACCESS_KEY_ID=testing) so that the standard credential chain of
# both eddy and boto3 finds them.
set -euo pipefail

CACHE=${EDDY_AWS_HOME:-${HOME:-/tmp}/.cache/eddy-aws}
DATA=${EDDY_AWS_DATA:-/tmp/eddy-aws}
HOST=127.0.0.1
PORT=${EDDY_AWS_PORT:-14566}
KPORT=${EDDY_AWS_KINESIS_PORT:-14568}
KMOCK=${EDDY_AWS_KINESIS_MOCK:-0.6.2}
NPMDIR=$CACHE/npm-$KMOCK
KMAIN=$NPMDIR/node_modules/kinesis-local/main.js
MOTO=${EDDY_AWS_MOTO:-5.2.5}
TIMEOUT=${EDDY_AWS_TIMEOUT:-60}
VENV=$CACHE/venv-$MOTO
PY=$VENV/bin/python

say() { printf 'aws.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

cmd_deps() {
  if [ -x "$PY" ] && "$PY" -c 'import moto, boto3, pyarrow, flask' 2>/dev/null; then return 0; fi
  command -v python3 >/dev/null || die "python3 not found"
  mkdir -p "$CACHE"
  say "creating virtualenv $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed"
  say "pip install moto[server]==$MOTO boto3 pyarrow"
  "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO" boto3 pyarrow >&2 \
    || die "pip install failed"
}

cmd_deps_node() {
  [ -f "$KMAIN" ] && return 0
  command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed for kinesis-mock (apt-get install nodejs npm)"
  mkdir -p "$NPMDIR"
  say "npm install kinesis-local@$KMOCK"
  npm install -q --no-audit --no-fund --prefix "$NPMDIR" "kinesis-local@$KMOCK" >&2 || die "npm install failed"
}

pid_alive() { [ -f "$DATA/$1.pid" ] && kill -0 "$(cat "$DATA/$1.pid")" 2>/dev/null; }

# serving NAME: the server answers a request of its own API
serving() {
  "$PY" - "$1" "$HOST" "$PORT" "$KPORT" <<'PY' 2>/dev/null
import sys, urllib.request, boto3
name, host, port, kport = sys.argv[1:]
if name == "moto":
    urllib.request.urlopen("http://%s:%s/moto-api/" % (host, port), timeout=2).read()
else:
    boto3.client("kinesis", endpoint_url="http://%s:%s" % (host, kport), region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing").list_streams(Limit=1)
PY
}

# start NAME CMD...: start a server in its own session (it outlives this
# script; down stops it) and wait until it serves
start() {
  local name=$1; shift
  if ! pid_alive "$name"; then
    say "starting $name"
    setsid "$@" >"$DATA/$name.log" 2>&1 </dev/null &
    echo $! >"$DATA/$name.pid"
  fi
  local deadline=$((SECONDS + TIMEOUT))
  until serving "$name"; do
    pid_alive "$name" || { tail -20 "$DATA/$name.log" >&2; die "$name exited"; }
    [ $SECONDS -lt $deadline ] || { tail -20 "$DATA/$name.log" >&2; die "$name did not serve within ${TIMEOUT}s"; }
    sleep 0.3
  done
}

cmd_env() {
  echo "EDDY_TEST_AWS_ENDPOINT=http://$HOST:$PORT"
  echo "EDDY_TEST_KINESIS_ENDPOINT=http://$HOST:$KPORT"
  echo "EDDY_TEST_AWS_REGION=us-east-1"
  echo "EDDY_TEST_AWS_PYTHON=$PY"
  echo "AWS_ACCESS_KEY_ID=testing"
  echo "AWS_SECRET_ACCESS_KEY=testing"
  echo "AWS_REGION=us-east-1"
  echo "AWS_DEFAULT_REGION=us-east-1"
}

cmd_up() {
  cmd_deps
  cmd_deps_node
  mkdir -p "$DATA"
  start moto "$VENV/bin/moto_server" -H "$HOST" -p "$PORT"
  # kinesis-mock reads server.json (its TLS port's certificate) from its
  # working directory; streams are ACTIVE 100ms after CreateStream and
  # reshards take as long
  (cd "$(dirname "$KMAIN")" && KINESIS_MOCK_PLAIN_PORT=$KPORT KINESIS_MOCK_TLS_PORT=$((KPORT + 1)) \
    CREATE_STREAM_DURATION=100ms DELETE_STREAM_DURATION=100ms SPLIT_SHARD_DURATION=100ms \
    MERGE_SHARDS_DURATION=100ms UPDATE_SHARD_COUNT_DURATION=100ms LOG_LEVEL=WARN \
    start kinesis node "$KMAIN")
  say "moto (S3) on http://$HOST:$PORT, kinesis-mock on http://$HOST:$KPORT"
  cmd_env
}

cmd_down() {
  local name pid
  for name in moto kinesis; do
    pid_alive "$name" || continue
    pid=$(cat "$DATA/$name.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$DATA"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) pid_alive moto && pid_alive kinesis && serving moto && serving kinesis || exit 3 ;;
  logs) tail -n "${3:-100}" "$DATA/${2:-moto}.log" ;;
  env) cmd_env ;;
  python) shift; cmd_deps; exec "$PY" "$@" ;;
  deps) cmd_deps; cmd_deps_node ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
