#!/usr/bin/env bash
# Runs a real Schema Registry (Apicurio Registry, which serves the
# Confluent-compatible API under /apis/ccompat/v7) on the loopback interface,
# for integration tests. No Docker, no download sites: Apicurio publishes its
# ready-built server on Maven Central as the "all" tar.gz next to
# io.apicurio:apicurio-registry-app, and Maven fetches it from there. Storage
# is H2 in memory: every start is an empty registry.
#
# Usage: scripts/registry.sh COMMAND
#   up       install what is missing (the server, a Python venv with
#            confluent-kafka's serializers), start the registry and wait until
#            it serves; idempotent. On success prints EDDY_TEST_* lines
#            (KEY=VALUE, no quoting needed) on stdout; all progress goes to
#            stderr, so `export $(scripts/registry.sh up)` sets them in a shell.
#   down     stop the registry (SIGTERM, then SIGKILL) and delete its run dir
#   status   exit 0 if the registry is running, 3 if not
#   logs     print the last 100 lines of the registry log (`logs -f` follows,
#            `logs N` prints N lines)
#   env      print the EDDY_TEST_* lines
#   smoke    produce a few records in Avro, Protobuf and JSON Schema (and the
#            evolving Avro topic) with scripts/registry/produce.py to the broker
#            in EDDY_TEST_BROKERS (scripts/kafka.sh up), read the Avro ones
#            back with scripts/registry/consume.py; exit 0 if all hold
#   python   run the venv's python with the arguments, e.g.
#            scripts/registry.sh python scripts/registry/produce.py --help
#   install  only install the server and the venv into the cache
#
# Environment (all optional):
#   EDDY_REGISTRY_HOME     cache root            (default ~/.cache/eddy-registry)
#   EDDY_REGISTRY_DATA     run dir (pid, log)    (default /tmp/eddy-registry)
#   EDDY_REGISTRY_VERSION  Apicurio version      (default 3.0.9; 3.1 and later need Java 21)
#   EDDY_REGISTRY_PORT     HTTP port             (default 18081)
#   EDDY_REGISTRY_HEAP     max heap              (default 384m)
#   EDDY_REGISTRY_TIMEOUT  seconds to wait for readiness (default 120)
#   EDDY_REGISTRY_JAVA_OPTS  extra JVM options
#   EDDY_REGISTRY_PYTHON   python for the venv   (default python3)
#   EDDY_REGISTRY_CK_VERSION  confluent-kafka version for the venv (default 2.16.1)
#   EDDY_REGISTRY_JAVA     java binary (default: $JAVA_HOME/bin/java, else java)
#
# Files: the server in CACHE/apicurio-VERSION, the venv in CACHE/venv-CKVERSION,
# Maven's downloads in CACHE/m2; registry.pid and registry.log in the run dir.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

VERSION=${EDDY_REGISTRY_VERSION:-3.0.9}
CK_VERSION=${EDDY_REGISTRY_CK_VERSION:-2.16.1}
CACHE_ROOT=${EDDY_REGISTRY_HOME:-${HOME:-/tmp}/.cache/eddy-registry}
APP=$CACHE_ROOT/apicurio-$VERSION
VENV=$CACHE_ROOT/venv-$CK_VERSION
M2=$CACHE_ROOT/m2
DATA=${EDDY_REGISTRY_DATA:-/tmp/eddy-registry}
HOST=127.0.0.1
PORT=${EDDY_REGISTRY_PORT:-18081}
HEAP=${EDDY_REGISTRY_HEAP:-384m}
TIMEOUT=${EDDY_REGISTRY_TIMEOUT:-120}
BASE=http://$HOST:$PORT
CCOMPAT=$BASE/apis/ccompat/v7

PID_FILE=$DATA/registry.pid
LOG_FILE=$DATA/registry.log
MARK=apicurio-registry-app

say() { printf 'registry.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

java_bin() {
  if [ -n "${EDDY_REGISTRY_JAVA:-}" ]; then echo "$EDDY_REGISTRY_JAVA"
  elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"
  else echo java
  fi
}

# ---------------------------------------------------------------- deps

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif have sudo; then sudo "$@"
  else return 1
  fi
}

# apt_install PKG...: as in scripts/kafka.sh, with apt-get update first when a
# package has no install candidate.
apt_install() {
  have apt-get || { say "apt-get not found; cannot install $*"; return 1; }
  local pkg policy need_update=0 out
  for pkg in "$@"; do
    policy=$(apt-cache policy "$pkg" 2>/dev/null || true)
    case "$policy" in *"Candidate: "[0-9]*) ;; *) need_update=1 ;; esac
  done
  out=$(mktemp)
  if [ "$need_update" = 1 ]; then
    say "apt-get update"
    if ! as_root apt-get update -qq >"$out" 2>&1; then
      cat "$out" >&2; rm -f "$out"; say "apt-get update failed"; return 1
    fi
  fi
  say "apt-get install -y $*"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$out" 2>&1; then
    cat "$out" >&2; rm -f "$out"; return 1
  fi
  rm -f "$out"
}

py_bin() { echo "${EDDY_REGISTRY_PYTHON:-python3}"; }

# deps: curl (readiness), java, and maven when the server is not cached yet.
cmd_deps() {
  have curl || apt_install curl || die "could not install curl"
  have "$(java_bin)" || apt_install openjdk-17-jre-headless || die "could not install java"
  if ! app_ok && ! have mvn; then apt_install maven || die "could not install maven"; fi
  if ! venv_ok; then
    have "$(py_bin)" || apt_install python3 python3-venv || die "could not install python3"
  fi
}

check_java() {
  local j v
  j=$(java_bin)
  have "$j" || die "java not found (Apicurio $VERSION needs Java 17+); install it or set JAVA_HOME"
  v=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
  case "$v" in
    1.*|9|1[0-6]) die "Apicurio $VERSION needs Java 17+, $j is Java $v (set JAVA_HOME)" ;;
  esac
}

# ---------------------------------------------------------------- install

# The 3.0.x distribution is a legacy jar (a runner jar and lib/); later ones
# are Quarkus fast-jars (quarkus-run.jar, which needs Java 21).
runner_jar() {
  if [ -f "$APP/quarkus-run.jar" ]; then echo "$APP/quarkus-run.jar"
  else echo "$APP/apicurio-registry-app-$VERSION-runner.jar"
  fi
}

app_ok() { [ -f "$APP/.complete" ] && [ -f "$(runner_jar)" ]; }
venv_ok() { [ -f "$VENV/.complete" ] && [ -x "$VENV/bin/python" ]; }

install_app() {
  if app_ok; then return 0; fi
  have mvn || die "mvn not found (apt-get install maven)"
  local tmp t0=$SECONDS gav=io.apicurio:apicurio-registry-app:$VERSION:tar.gz:all
  local tgz=$M2/io/apicurio/apicurio-registry-app/$VERSION/apicurio-registry-app-$VERSION-all.tar.gz
  mkdir -p "$CACHE_ROOT"
  tmp=$(mktemp -d "$APP.tmp.XXXXXX")
  say "fetching $gav from Maven Central"
  # dependency:get, not a pom with dependency:unpack: the app's parent pom
  # (io.apicurio:apicurio-registry) is not on Maven Central for every
  # version (3.0.9 among them), and unpack/copy refuse an artifact whose
  # descriptor cannot be read; get with -Dtransitive=false fetches the file
  # alone. Maven's output is shown only on failure.
  if ! mvn -q -B "-Dmaven.repo.local=$M2" dependency:get -Dtransitive=false "-Dartifact=$gav" \
    >"$tmp.mvn.log" 2>&1 || [ ! -f "$tgz" ]; then
    sed 's/\x1b\[[0-9;]*m//g' "$tmp.mvn.log" >&2
    rm -rf "$tmp" "$tmp.mvn.log"
    die "maven could not fetch $gav"
  fi
  rm -f "$tmp.mvn.log"
  tar -xzf "$tgz" -C "$tmp" || { rm -rf "$tmp"; die "could not unpack $tgz"; }
  rm -f "$tgz"   # unpacked; keeping both would double the cache
  touch "$tmp/.complete"
  rm -rf "$APP"
  mv "$tmp" "$APP"
  [ -f "$(runner_jar)" ] || die "no runner jar in $APP"
  say "installed Apicurio Registry $VERSION ($(du -sm "$APP" | cut -f1) MB) in $((SECONDS - t0))s"
}

# The venv has confluent-kafka with the Avro, Protobuf and JSON Schema
# serializers (fastavro, protobuf, jsonschema and friends from PyPI).
install_venv() {
  if venv_ok; then return 0; fi
  local py t0=$SECONDS
  py=$(py_bin)
  have "$py" || die "$py not found"
  mkdir -p "$CACHE_ROOT"
  rm -rf "$VENV"   # made in place (a venv's scripts name its path); .complete marks it whole
  say "making a Python venv with confluent-kafka $CK_VERSION in $VENV"
  if ! "$py" -m venv "$VENV" >&2; then
    rm -rf "$VENV"
    apt_install python3-venv || die "could not install python3-venv"
    "$py" -m venv "$VENV" >&2 || { rm -rf "$VENV"; die "$py -m venv failed"; }
  fi
  if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    "confluent-kafka[avro,json,protobuf,schemaregistry]==$CK_VERSION" >&2; then
    rm -rf "$VENV"; die "pip could not install confluent-kafka $CK_VERSION"
  fi
  touch "$VENV/.complete"
  say "venv ready in $((SECONDS - t0))s"
}

cmd_install() { install_app; install_venv; }

# ---------------------------------------------------------------- process

registry_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  pid_alive "$pid" || return 1
  if [ -r "/proc/$pid/cmdline" ]; then   # a recycled pid is not ours
    case "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" in
      *"$MARK"*|*"$APP/quarkus-run.jar"*) ;;
      *) return 1 ;;
    esac
  fi
  echo "$pid"
}

running() { registry_pid >/dev/null; }

pid_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  if stat=$(cat "/proc/$1/stat" 2>/dev/null); then
    stat=${stat##*) }
    [ "${stat%% *}" != Z ] || return 1
  fi
  return 0
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# ready: the health check says UP and the Confluent-compatible API answers.
ready() {
  curl -sf -m 5 "$BASE/health/ready" >/dev/null 2>&1 &&
    curl -sf -m 5 "$CCOMPAT/subjects" >/dev/null 2>&1
}

wait_ready() {
  local pid deadline=$((SECONDS + TIMEOUT))
  while :; do
    if ! pid=$(registry_pid); then
      say "the registry exited during startup; last 50 lines of $LOG_FILE:"
      tail -n 50 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      return 1
    fi
    if ready; then return 0; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "the registry (pid $pid) was not ready after ${TIMEOUT}s; last 50 lines of $LOG_FILE:"
      tail -n 50 "$LOG_FILE" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

launch() {
  if port_open "$PORT"; then die "port $HOST:$PORT is already in use by another process"; fi
  local j t0=$SECONDS
  j=$(java_bin)
  mkdir -p "$DATA"
  touch "$LOG_FILE"
  printf '=== scripts/registry.sh: starting Apicurio Registry %s at %s ===\n' "$VERSION" "$(date '+%F %T')" >>"$LOG_FILE"
  local detach=()
  if have setsid; then detach=(setsid); fi
  # A small heap and the serial collector: the registry serves a handful of
  # requests per test and shares two cores with the build. C1 only
  # (TieredStopAtLevel=1) starts it faster. Telemetry and the UI config
  # fetch are not needed on loopback.
  # shellcheck disable=SC2086
  (cd "$DATA" && exec "${detach[@]}" "$j" -Xmx"$HEAP" -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dquarkus.http.host="$HOST" -Dquarkus.http.port="$PORT" \
    ${EDDY_REGISTRY_JAVA_OPTS:-} \
    -jar "$(runner_jar)" \
    </dev/null >>"$LOG_FILE" 2>&1 9>&-) &
  echo $! >"$PID_FILE"
  say "started registry pid $! (log: $LOG_FILE); waiting up to ${TIMEOUT}s"
  if ! wait_ready; then
    stop_registry TERM 10 >/dev/null 2>&1 || true
    return 1
  fi
  say "ready in $((SECONDS - t0))s"
}

stop_registry() {
  local sig=$1 grace=$2 pid i
  if ! pid=$(registry_pid); then rm -f "$PID_FILE"; return 0; fi
  say "stopping registry pid $pid (SIG$sig)"
  kill -"$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then
    say "registry pid $pid still alive after ${grace}s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  fi
  rm -f "$PID_FILE"
}

# EDDY_TEST_REGISTRY is the Confluent-compatible base URL (what clients such
# as franz-go's pkg/sr and confluent-kafka take); EDDY_TEST_REGISTRY_PYTHON
# runs scripts/registry/*.py.
print_env() {
  cat <<EOF
EDDY_TEST_REGISTRY=$CCOMPAT
EDDY_TEST_REGISTRY_CORE=$BASE/apis/registry/v3
EDDY_TEST_REGISTRY_PYTHON=$VENV/bin/python
EOF
}

lock() {
  have flock || return 0
  mkdir -p "$(dirname "$DATA")"
  exec 9>"$DATA.lock"
  flock -w 300 9 || die "could not lock $DATA.lock"
}

# ---------------------------------------------------------------- commands

cmd_up() {
  local pid
  lock
  if pid=$(registry_pid); then
    say "already running (pid $pid)"
    print_env
    return 0
  fi
  cmd_deps
  check_java
  cmd_install
  launch
  print_env
}

cmd_down() {
  lock
  stop_registry TERM 20
  if [ -d "$DATA" ]; then
    say "removing $DATA"
    rm -rf "$DATA"
  fi
}

cmd_status() {
  local pid
  if pid=$(registry_pid); then
    say "running (pid $pid): $CCOMPAT, log $LOG_FILE"
    return 0
  fi
  say "not running"
  return 3
}

cmd_logs() {
  [ -f "$LOG_FILE" ] || die "no log at $LOG_FILE"
  case "${1:-}" in
    -f) tail -n 100 -f "$LOG_FILE" ;;
    '') tail -n 100 "$LOG_FILE" ;;
    *) tail -n "$1" "$LOG_FILE" ;;
  esac
}

cmd_python() {
  venv_ok || { cmd_deps; install_venv; }
  exec "$VENV/bin/python" "$@"
}

# smoke [N]: N records (default 12) through every format, read back.
cmd_smoke() {
  local n=${1:-12} brokers=${EDDY_TEST_BROKERS:-} prefix t0=$SECONDS
  [ -n "$brokers" ] || die "EDDY_TEST_BROKERS is not set (export \$(scripts/kafka.sh up))"
  running || die "the registry is not running (scripts/registry.sh up)"
  venv_ok || die "no venv in $VENV (scripts/registry.sh install)"
  prefix=smoke-$(date +%s)-$$
  local py=$VENV/bin/python
  "$py" "$SCRIPT_DIR/registry/produce.py" --brokers "$brokers" --registry "$CCOMPAT" \
    --prefix "$prefix" --count "$n" || die "produce.py failed"
  "$py" "$SCRIPT_DIR/registry/consume.py" --brokers "$brokers" --registry "$CCOMPAT" \
    --topic "$prefix-avro" --count "$n" --expect "$n" --quiet || die "consume.py read back too little from $prefix-avro"
  "$py" "$SCRIPT_DIR/registry/consume.py" --brokers "$brokers" --registry "$CCOMPAT" \
    --topic "$prefix-avro-evolve" --count "$n" --expect "$n" --reader-latest --quiet ||
    die "consume.py read back too little from $prefix-avro-evolve"
  local versions
  versions=$(curl -sf "$CCOMPAT/subjects/$prefix-avro-evolve-value/versions") || die "no versions for $prefix-avro-evolve-value"
  [ "$versions" = "[1,2,3]" ] || die "expected versions [1,2,3] of $prefix-avro-evolve-value, got $versions"
  say "smoke passed in $((SECONDS - t0))s ($n records per topic, evolve versions $versions)"
}

usage() {
  sed -n '/^# Usage:/,/^# Files:/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case "$cmd" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    env) print_env ;;
    smoke) cmd_smoke "$@" ;;
    python) cmd_python "$@" ;;
    install) cmd_deps; check_java; cmd_install ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
