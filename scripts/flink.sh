#!/usr/bin/env bash
# Runs a real Apache Flink session cluster (one JobManager, one TaskManager)
# and the Flink SQL Gateway on the loopback interface, for eddy's integration
# tests of `eddy deploy --flink`. There is no Flink distribution archive on
# Maven Central: the distribution's classpath is assembled from the Maven jars
# (scripts/flink/pom.xml: flink-runtime's entrypoints, flink-clients, the
# table planner loader and runtime, flink-sql-gateway, the Kafka and JSON
# connectors) and the three JVMs are started with the main classes Flink's
# own bin/ scripts use.
#
# Usage: scripts/flink.sh COMMAND
#   up       resolve the jars (once), write the config, start the JobManager,
#            the TaskManager and the SQL Gateway, wait until the TaskManager
#            has registered and the gateway answers; idempotent. Prints
#            EDDY_TEST_FLINK_* lines on stdout (progress on stderr), so
#            `export $(scripts/flink.sh up)` sets them.
#   down     stop the three processes (SIGTERM, then SIGKILL), delete the data dir
#   status   exit 0 if all three run, 3 if not
#   logs     print the last 100 lines of each log (`logs N` prints N lines)
#   env      print the EDDY_TEST_FLINK_* lines
#   install  only resolve the jars into the cache
#
# Environment (all optional):
#   EDDY_FLINK_HOME      jar cache root  (default ~/.cache/eddy-flink)
#   EDDY_FLINK_DATA      data dir        (default /tmp/eddy-flink)
#   EDDY_FLINK_VERSION   Flink version   (default 1.20.3)
#   EDDY_FLINK_KAFKA_CONNECTOR  flink-connector-kafka version (default 3.4.0-1.20)
#   EDDY_FLINK_REST_PORT JobManager REST port (default 18091; the registry has 18081)
#   EDDY_FLINK_GATEWAY_PORT  SQL Gateway REST port (default 18093)
#   EDDY_FLINK_SLOTS     TaskManager slots (default 4)
#   EDDY_FLINK_TIMEOUT   seconds to wait for readiness (default 120)
#   EDDY_FLINK_M2_REPO   Maven local repository (default: Maven's own)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM=$SCRIPT_DIR/flink/pom.xml

FLINK_VERSION=${EDDY_FLINK_VERSION:-1.20.3}
CONNECTOR=${EDDY_FLINK_KAFKA_CONNECTOR:-3.4.0-1.20}
CACHE_ROOT=${EDDY_FLINK_HOME:-${HOME:-/tmp}/.cache/eddy-flink}
# a changed pom resolves again into a directory of its own
POM_SUM=$(cksum <"$POM" | cut -d" " -f1)
LIBS=$CACHE_ROOT/$FLINK_VERSION-$CONNECTOR-$POM_SUM/libs
DATA=${EDDY_FLINK_DATA:-/tmp/eddy-flink}
HOST=127.0.0.1
REST_PORT=${EDDY_FLINK_REST_PORT:-18091}
GATEWAY_PORT=${EDDY_FLINK_GATEWAY_PORT:-18093}
RPC_PORT=$((REST_PORT - 1958))   # 16133 by default
SLOTS=${EDDY_FLINK_SLOTS:-4}
TIMEOUT=${EDDY_FLINK_TIMEOUT:-120}
CONF=$DATA/conf

JM_CLASS=org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint
TM_CLASS=org.apache.flink.runtime.taskexecutor.TaskManagerRunner
GW_CLASS=org.apache.flink.table.gateway.SqlGateway
UTILS_CLASS=org.apache.flink.runtime.util.bash.BashJavaUtils

say() { printf 'flink.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

java_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}

libs_ok() { [ -f "$LIBS/.complete" ] && [ -f "$LIBS/flink-runtime-$FLINK_VERSION.jar" ]; }

cmd_install() {
  if libs_ok; then return 0; fi
  have mvn || die "mvn not found (run: scripts/kafka.sh deps --need-maven)"
  local tmp t0=$SECONDS
  mkdir -p "$(dirname "$LIBS")"
  tmp=$(mktemp -d "$LIBS.tmp.XXXXXX")
  say "resolving Flink $FLINK_VERSION jars (Kafka connector $CONNECTOR) from Maven Central into $LIBS"
  local args=(-q -B -f "$POM" "-Dflink.version=$FLINK_VERSION" "-Dkafka.connector.version=$CONNECTOR"
    dependency:copy-dependencies -DincludeScope=runtime "-DoutputDirectory=$tmp")
  if [ -n "${EDDY_FLINK_M2_REPO:-}" ]; then args+=("-Dmaven.repo.local=$EDDY_FLINK_M2_REPO"); fi
  if ! mvn "${args[@]}" >"$tmp.mvn.log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$tmp.mvn.log" >&2
    rm -rf "$tmp" "$tmp.mvn.log"
    die "maven could not resolve the Flink $FLINK_VERSION jars"
  fi
  rm -f "$tmp.mvn.log"
  [ -f "$tmp/flink-runtime-$FLINK_VERSION.jar" ] || { rm -rf "$tmp"; die "flink-runtime-$FLINK_VERSION.jar missing after resolve"; }
  touch "$tmp/.complete"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  say "installed $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
}

write_config() {
  mkdir -p "$CONF" "$DATA/tmp" "$DATA/log"
  cat >"$CONF/config.yaml" <<EOF
# Written by scripts/flink.sh: a loopback session cluster for eddy's tests.
jobmanager.rpc.address: $HOST
jobmanager.bind-host: $HOST
jobmanager.rpc.port: $RPC_PORT
jobmanager.memory.process.size: 900m
taskmanager.host: $HOST
taskmanager.bind-host: $HOST
taskmanager.rpc.port: $((RPC_PORT + 2))
taskmanager.data.port: $((RPC_PORT + 3))
taskmanager.memory.process.size: 1200m
taskmanager.numberOfTaskSlots: $SLOTS
blob.server.port: $((RPC_PORT + 1))
rest.address: $HOST
rest.bind-address: $HOST
rest.port: $REST_PORT
parallelism.default: 1
execution.target: remote
io.tmp.dirs: $DATA/tmp
sql-gateway.endpoint.rest.address: $HOST
sql-gateway.endpoint.rest.bind-address: $HOST
sql-gateway.endpoint.rest.port: $GATEWAY_PORT
EOF
  cat >"$CONF/log4j.properties" <<'EOF'
# Written by scripts/flink.sh; each process logs to the file in -Dlog.file.
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
appender.main.name = MainAppender
appender.main.type = File
appender.main.append = true
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
logger.pekko.name = org.apache.pekko
logger.pekko.level = WARN
EOF
}

pid_of() {  # pid_of NAME: the live pid of jm, tm or gw
  local f=$DATA/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/stat" ]; then
    local stat; stat=$(cat "/proc/$pid/stat"); stat=${stat##*) }
    [ "${stat%% *}" != Z ] || return 1
  fi
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# start NAME CLASS JVM_OPTS... -- ARGS...
start() {
  local name=$1 class=$2; shift 2
  local jvm=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do jvm+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  args=("$@")
  local detach=()
  if have setsid; then detach=(setsid); fi
  FLINK_CONF_DIR=$CONF "${detach[@]}" "$(java_bin)" "${jvm[@]}" -XX:+ExitOnOutOfMemoryError \
    -Dlog.file="$DATA/log/$name.log" -Dlog4j.configurationFile="file:$CONF/log4j.properties" \
    -cp "$LIBS/*" "$class" "${args[@]}" </dev/null >>"$DATA/log/$name.out" 2>&1 9>&- &
  echo $! >"$DATA/$name.pid"
  say "started $name pid $! (log: $DATA/log/$name.log)"
}

# wait_for WHAT CHECK...: until CHECK succeeds, or a process died, or TIMEOUT.
wait_for() {
  local what=$1; shift
  local deadline=$((SECONDS + TIMEOUT)) n
  while ! "$@" 2>/dev/null; do
    for n in jm tm gw; do
      if [ -f "$DATA/$n.pid" ] && ! pid_of "$n" >/dev/null; then
        say "$n exited; last 40 lines of its log:"; tail -n 40 "$DATA/log/$n.log" "$DATA/log/$n.out" >&2 2>/dev/null || true
        return 1
      fi
    done
    [ "$SECONDS" -lt "$deadline" ] || { say "$what not ready after ${TIMEOUT}s"; return 1; }
    sleep 0.5
  done
}

tm_registered() { curl -sf "http://$HOST:$REST_PORT/overview" | grep -q '"taskmanagers":[1-9]'; }
gateway_ok() { curl -sf "http://$HOST:$GATEWAY_PORT/v1/info" | grep -q version; }

cmd_up() {
  if pid_of jm >/dev/null && pid_of tm >/dev/null && pid_of gw >/dev/null; then print_env; return 0; fi
  have curl || die "curl not found"
  cmd_install
  cmd_down_quiet
  local p
  for p in "$REST_PORT" "$GATEWAY_PORT" "$RPC_PORT"; do
    if port_open "$p"; then die "port $HOST:$p is already in use by another process"; fi
  done
  write_config
  local t0=$SECONDS out jvm dyn
  start jm "$JM_CLASS" -Xmx512m -Xms128m -- --configDir "$CONF"
  wait_for "the JobManager" curl -sf "http://$HOST:$REST_PORT/overview" -o /dev/null || { cmd_down_quiet; exit 1; }
  # the TaskManager's JVM options and memory settings, computed as Flink's
  # bin/taskmanager.sh does
  out=$("$(java_bin)" -cp "$LIBS/*" "$UTILS_CLASS" GET_TM_RESOURCE_PARAMS --configDir "$CONF" 2>&1 | grep BASH_JAVA_UTILS_EXEC_RESULT:) ||
    die "BashJavaUtils could not compute the TaskManager's memory: $out"
  jvm=$(printf '%s\n' "$out" | sed -n 1p | sed 's/^BASH_JAVA_UTILS_EXEC_RESULT://')
  dyn=$(printf '%s\n' "$out" | sed -n 2p | sed 's/^BASH_JAVA_UTILS_EXEC_RESULT://')
  # shellcheck disable=SC2086
  start tm "$TM_CLASS" $jvm -- --configDir "$CONF" $dyn
  wait_for "the TaskManager" tm_registered || { cmd_down_quiet; exit 1; }
  start gw "$GW_CLASS" -Xmx512m -Xms128m --
  wait_for "the SQL Gateway" gateway_ok || { cmd_down_quiet; exit 1; }
  say "ready in $((SECONDS - t0))s"
  print_env
}

stop_one() {
  local n=$1 pid i
  pid=$(pid_of "$n") || { rm -f "$DATA/$n.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then say "$n pid $pid still alive after 15s; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$DATA/$n.pid"
}

cmd_down_quiet() { stop_one gw; stop_one tm; stop_one jm; }

cmd_down() {
  cmd_down_quiet
  rm -rf "$DATA"
  say "stopped; removed $DATA"
}

print_env() {
  cat <<EOF
EDDY_TEST_FLINK_GATEWAY=http://$HOST:$GATEWAY_PORT
EDDY_TEST_FLINK_REST=http://$HOST:$REST_PORT
EOF
}

cmd_logs() {
  local n=${1:-100} f
  for f in jm tm gw; do
    [ -f "$DATA/log/$f.log" ] || continue
    printf '==> %s <==\n' "$DATA/log/$f.log"
    tail -n "$n" "$DATA/log/$f.log"
  done
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) pid_of jm >/dev/null && pid_of tm >/dev/null && pid_of gw >/dev/null || exit 3 ;;
  logs) shift; cmd_logs "$@" ;;
  env) print_env ;;
  install) cmd_install ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
