#!/usr/bin/env bash
# Runs real Redis, InfluxDB 1.x and Prometheus servers on the loopback
# interface for the serving sinks' integration tests (sink/*_integration_test.go).
# No Docker, no download sites: the servers are Debian's packages
# (redis-server 7, influxdb 1.6, prometheus 2.42), installed with apt-get when
# missing, and started as plain processes with their data in one directory.
#
# Usage: scripts/serving.sh COMMAND
#   up       install what is missing, start the three servers and wait until
#            each serves; idempotent. On success prints EDDY_TEST_* lines
#            (KEY=VALUE, no quoting needed) on stdout; all progress goes to
#            stderr, so `export $(scripts/serving.sh up)` sets them in a shell.
#   down     stop the servers (SIGTERM, then SIGKILL) and delete the data dir
#   env      print the EDDY_TEST_* lines
#   kill9 NAME   kill -9 one server (redis, influxdb, prometheus), for fault tests
#   start NAME   start one server again on its data dir and wait until it serves
#   status   exit 0 if all three run, 3 if not
#   deps     only install the packages
#
# Environment (all optional):
#   EDDY_SERVING_DATA        data dir         (default /tmp/eddy-serving)
#   EDDY_SERVING_REDIS_PORT  Redis port       (default 16379)
#   EDDY_SERVING_INFLUX_PORT InfluxDB port    (default 18086)
#   EDDY_SERVING_PROM_PORT   Prometheus port  (default 19090)
#   EDDY_SERVING_TIMEOUT     seconds to wait for readiness (default 60)
#
# Files in the data dir: redis/, influxdb/ (with influxdb.conf), prometheus/
# (with prometheus.yml, and targets/ for the file_sd scrape job "eddy"),
# NAME.pid and NAME.log per server.
set -euo pipefail

DATA=${EDDY_SERVING_DATA:-/tmp/eddy-serving}
HOST=127.0.0.1
REDIS_PORT=${EDDY_SERVING_REDIS_PORT:-16379}
INFLUX_PORT=${EDDY_SERVING_INFLUX_PORT:-18086}
PROM_PORT=${EDDY_SERVING_PROM_PORT:-19090}
TIMEOUT=${EDDY_SERVING_TIMEOUT:-60}
SERVERS=(redis influxdb prometheus)

say() { printf 'serving.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif have sudo && sudo -n true 2>/dev/null; then sudo -n "$@"
  else say "not root and no password-less sudo: cannot run $*"; return 1
  fi
}

# apt_install PKG...: installs with apt-get, running apt-get update first when
# a package has no install candidate. Debian's maintainer scripts would start
# the packaged services; a policy-rc.d is not ours to write, so the packaged
# services (if started by an init system) are simply not used: ours run on
# other ports.
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
  say "apt-get install -y --no-install-recommends $*"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$out" 2>&1; then
    cat "$out" >&2; rm -f "$out"; return 1
  fi
  rm -f "$out"
}

cmd_deps() {
  local need=()
  have redis-server || need+=(redis-server)
  have redis-cli || need+=(redis-tools)
  have influxd || need+=(influxdb)
  have prometheus || need+=(prometheus)
  [ ${#need[@]} = 0 ] || apt_install "${need[@]}"
}

# ---------------------------------------------------------------- process

pid_of() {
  local f=$DATA/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  pid_alive "$pid" || return 1
  echo "$pid"
}

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

# ready NAME: the server answers its own protocol.
ready() {
  case "$1" in
    redis) [ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] ;;
    influxdb) curl -fsS -o /dev/null "http://$HOST:$INFLUX_PORT/ping" 2>/dev/null ;;
    prometheus) curl -fsS -o /dev/null "http://$HOST:$PROM_PORT/-/ready" 2>/dev/null ;;
  esac
}

port_of() {
  case "$1" in redis) echo "$REDIS_PORT" ;; influxdb) echo "$INFLUX_PORT" ;; prometheus) echo "$PROM_PORT" ;; esac
}

write_configs() {
  mkdir -p "$DATA/redis" "$DATA/influxdb/meta" "$DATA/influxdb/data" "$DATA/influxdb/wal" "$DATA/prometheus/tsdb" "$DATA/prometheus/targets"
  cat >"$DATA/influxdb/influxdb.conf" <<CONF
# Written by scripts/serving.sh.
reporting-disabled = true
bind-address = "$HOST:$((INFLUX_PORT + 2))"
[meta]
  dir = "$DATA/influxdb/meta"
[data]
  dir = "$DATA/influxdb/data"
  wal-dir = "$DATA/influxdb/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "$HOST:$INFLUX_PORT"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
  cat >"$DATA/prometheus/prometheus.yml" <<CONF
# Written by scripts/serving.sh: samples arrive by remote write; the job
# "eddy" scrapes the /metrics of the runs listed in targets/*.json (file_sd:
# a test writes a file there and removes it).
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: eddy
    scrape_interval: 1s
    scrape_timeout: 1s
    file_sd_configs:
      - files: ["$DATA/prometheus/targets/*.json"]
        refresh_interval: 1s
CONF
}

launch() {
  local name=$1 port log=$DATA/$1.log
  port=$(port_of "$name")
  if port_open "$port"; then die "port $HOST:$port is already in use by another process"; fi
  local cmd=()
  case "$name" in
    redis) cmd=(redis-server --bind "$HOST" --port "$REDIS_PORT" --dir "$DATA/redis" --save "" --appendonly no --daemonize no) ;;
    influxdb) cmd=(influxd -config "$DATA/influxdb/influxdb.conf") ;;
    prometheus) cmd=(prometheus --config.file="$DATA/prometheus/prometheus.yml" --storage.tsdb.path="$DATA/prometheus/tsdb"
      --web.listen-address="$HOST:$PROM_PORT" --web.enable-remote-write-receiver
      --storage.tsdb.retention.time=1d) ;;
  esac
  local detach=()
  if have setsid; then detach=(setsid); fi
  printf '=== scripts/serving.sh: starting %s at %s ===\n' "$name" "$(date '+%F %T')" >>"$log"
  "${detach[@]}" "${cmd[@]}" </dev/null >>"$log" 2>&1 9>&- &
  echo $! >"$DATA/$name.pid"
}

wait_ready() {
  local name=$1 deadline=$((SECONDS + TIMEOUT))
  while ! ready "$name"; do
    if ! pid_of "$name" >/dev/null; then
      say "$name exited during startup; last 30 lines of $DATA/$name.log:"
      tail -n 30 "$DATA/$name.log" >&2 || true
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$name was not ready after ${TIMEOUT}s; last 30 lines of $DATA/$name.log:"
      tail -n 30 "$DATA/$name.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

stop_one() {
  local name=$1 pid i
  if ! pid=$(pid_of "$name"); then rm -f "$DATA/$name.pid"; return 0; fi
  say "stopping $name pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  if pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$DATA/$name.pid"
}

print_env() {
  cat <<ENV
EDDY_TEST_REDIS=$HOST:$REDIS_PORT
EDDY_TEST_INFLUXDB=http://$HOST:$INFLUX_PORT
EDDY_TEST_PROMETHEUS=http://$HOST:$PROM_PORT
EDDY_TEST_PROMETHEUS_TARGETS=$DATA/prometheus/targets
ENV
}

lock() {
  have flock || return 0
  mkdir -p "$(dirname "$DATA")"
  exec 9>"$DATA.lock"
  flock -w 300 9 || die "could not lock $DATA.lock"
}

# ---------------------------------------------------------------- commands

cmd_up() {
  lock
  local t0=$SECONDS name
  cmd_deps || die "could not install the servers"
  have curl || apt_install curl || die "curl is needed for the readiness checks"
  mkdir -p "$DATA"
  write_configs
  for name in "${SERVERS[@]}"; do
    if pid_of "$name" >/dev/null; then say "$name already running"; continue; fi
    launch "$name"
  done
  for name in "${SERVERS[@]}"; do
    wait_ready "$name" || { for n in "${SERVERS[@]}"; do stop_one "$n"; done; exit 1; }
  done
  say "ready in $((SECONDS - t0))s"
  print_env
}

cmd_down() {
  lock
  local name
  for name in "${SERVERS[@]}"; do stop_one "$name"; done
  if [ -d "$DATA" ]; then say "removing $DATA"; rm -rf "$DATA"; fi
}

server_name() {
  case "${1:-}" in redis|influxdb|prometheus) ;; *) die "want a server: redis, influxdb or prometheus" ;; esac
}

cmd_kill9() {
  server_name "${1:-}"
  local pid i
  if ! pid=$(pid_of "$1"); then say "$1 not running"; return 0; fi
  say "kill -9 $1 pid $pid"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  rm -f "$DATA/$1.pid"
}

cmd_start() {
  server_name "${1:-}"
  [ -d "$DATA" ] || die "no data dir at $DATA; run: scripts/serving.sh up"
  if pid_of "$1" >/dev/null; then say "$1 already running"; return 0; fi
  launch "$1"
  wait_ready "$1"
}

cmd_status() {
  local name rc=0
  for name in "${SERVERS[@]}"; do
    if pid_of "$name" >/dev/null; then say "$name running on $HOST:$(port_of "$name")"
    else say "$name not running"; rc=3
    fi
  done
  return "$rc"
}

usage() { sed -n '/^# Usage:/,/^# Environment/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) print_env ;;
  status) cmd_status ;;
  deps) cmd_deps ;;
  kill9) cmd_kill9 "${2:-}" ;;
  start) cmd_start "${2:-}" ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac
