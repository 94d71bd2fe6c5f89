#!/usr/bin/env bash
# Runs a real single-node Apache Kafka broker (KRaft, combined broker+controller)
# on the loopback interface, for integration tests. No Docker, no download
# sites: the broker's jars come from Maven Central through scripts/kafka/pom.xml.
#
# Usage: scripts/kafka.sh COMMAND
#   up       install what is missing, write the config, format the storage
#            (once), start the broker and wait until it serves; idempotent.
#            On success prints EDDY_TEST_* lines (KEY=VALUE, no quoting
#            needed) on stdout; all progress goes to stderr, so
#            `export $(scripts/kafka.sh up)` sets them in a shell.
#   down     stop the broker (SIGTERM, then SIGKILL) and delete the data dir
#   start    start the broker again on the existing data dir (no reformat),
#            e.g. after kill9 or stop; waits until it serves
#   stop     stop the broker gracefully, keep the data dir
#   kill9    kill -9 the broker (fault tests); the data dir is kept
#   status   exit 0 if the broker is running, 3 if not
#   logs     print the last 100 lines of the broker log (`logs -f` follows,
#            `logs N` prints N lines)
#   env      print the EDDY_TEST_* lines
#   check    self-test with the Java client: PLAINTEXT answers, SASL accepts
#            the test user and refuses a wrong password, OAUTHBEARER accepts
#            an unsecured JWT (exit 0 if all hold)
#   deps     install kcat (and java/maven if missing) with apt-get
#   install  only resolve the jars into the cache
#
# Environment (all optional):
#   EDDY_KAFKA_HOME        jar cache root      (default ~/.cache/eddy-kafka)
#   EDDY_KAFKA_DATA        data dir            (default /tmp/eddy-kafka)
#   EDDY_KAFKA_VERSION     Kafka version       (default 4.1.1)
#   EDDY_KAFKA_PARTITIONS  num.partitions      (default 3)
#   EDDY_KAFKA_PORT        PLAINTEXT port      (default 19092)
#   EDDY_KAFKA_SASL_PORT   SASL_PLAINTEXT port (default 19093, SCRAM-SHA-512)
#   EDDY_KAFKA_CONTROLLER_PORT  KRaft controller port (default 19094)
#   EDDY_KAFKA_OAUTH_PORT  SASL_PLAINTEXT OAUTHBEARER port (default 19095)
#   EDDY_KAFKA_HEAP        max heap            (default 512m)
#   EDDY_KAFKA_TIMEOUT     seconds to wait for readiness (default 90)
#   EDDY_KAFKA_JAVA_OPTS   extra JVM options for the broker
#   EDDY_KAFKA_M2_REPO     Maven local repository (default: Maven's own)
#   EDDY_KAFKA_JAVA        java binary (default: $JAVA_HOME/bin/java, else java)
#
# SCRAM-SHA-512 user on the SASL port: eddy / eddy-secret (created at format
# time). The OAUTHBEARER port (listener OAUTH) validates unsecured JWTs (alg
# none) with Kafka's default unsecured validator; test clients send e.g.
# unsecuredLoginStringClaim_sub="eddy" in their JAAS line. Files in the data dir: server.properties, log4j2.properties,
# kraft-logs/ (topic data and metadata), broker.pid, broker.log.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM=$SCRIPT_DIR/kafka/pom.xml
CHECK_JAVA=$SCRIPT_DIR/kafka/Check.java
TOOLS_LOG4J=$SCRIPT_DIR/kafka/log4j2-quiet.properties

KAFKA_VERSION=${EDDY_KAFKA_VERSION:-4.1.1}
CACHE_ROOT=${EDDY_KAFKA_HOME:-${HOME:-/tmp}/.cache/eddy-kafka}
LIBS=$CACHE_ROOT/$KAFKA_VERSION/libs
DATA=${EDDY_KAFKA_DATA:-/tmp/eddy-kafka}
PARTITIONS=${EDDY_KAFKA_PARTITIONS:-3}
HOST=127.0.0.1
PORT=${EDDY_KAFKA_PORT:-19092}
SASL_PORT=${EDDY_KAFKA_SASL_PORT:-19093}
CONTROLLER_PORT=${EDDY_KAFKA_CONTROLLER_PORT:-19094}
OAUTH_PORT=${EDDY_KAFKA_OAUTH_PORT:-19095}
HEAP=${EDDY_KAFKA_HEAP:-512m}
TIMEOUT=${EDDY_KAFKA_TIMEOUT:-90}
SASL_MECHANISM=SCRAM-SHA-512
SASL_USER=eddy
SASL_PASSWORD=eddy-secret

CONFIG=$DATA/server.properties
LOG4J_CONFIG=$DATA/log4j2.properties
LOG_DIRS=$DATA/kraft-logs
PID_FILE=$DATA/broker.pid
LOG_FILE=$DATA/broker.log
MAIN_CLASS=kafka.Kafka
STORAGE_TOOL=kafka.tools.StorageTool

say() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

java_bin() {
  if [ -n "${EDDY_KAFKA_JAVA:-}" ]; then echo "$EDDY_KAFKA_JAVA"
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

# apt_install PKG...: installs with apt-get, running apt-get update first when
# a package has no install candidate (a fresh machine has no package lists).
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

# deps [--need-maven]: kcat (readiness checks, manual poking), java, maven.
cmd_deps() {
  local rc=0
  if ! have kcat; then
    apt_install kcat || { say "warning: could not install kcat"; rc=1; }
  fi
  if ! have "$(java_bin)"; then
    apt_install openjdk-17-jre-headless || { say "could not install java"; rc=1; }
  fi
  if [ "${1:-}" = --need-maven ] && ! have mvn; then
    apt_install maven || { say "could not install maven"; rc=1; }
  fi
  return "$rc"
}

check_java() {
  local j v
  j=$(java_bin)
  have "$j" || die "java not found (Kafka $KAFKA_VERSION needs Java 17+); install it or set JAVA_HOME"
  v=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
  case "$v" in
    1.*|9|1[0-6]) die "Kafka $KAFKA_VERSION needs Java 17+, $j is Java $v (set JAVA_HOME)" ;;
  esac
}

# ---------------------------------------------------------------- install

libs_ok() { [ -f "$LIBS/.complete" ] && [ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]; }

cmd_install() {
  if libs_ok; then return 0; fi
  have mvn || die "mvn not found (run: scripts/kafka.sh deps, or apt-get install maven)"
  [ -f "$POM" ] || die "missing $POM"
  local tmp t0=$SECONDS
  mkdir -p "$(dirname "$LIBS")"
  tmp=$(mktemp -d "$LIBS.tmp.XXXXXX")
  say "resolving Apache Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
  local args=(-q -B -f "$POM" "-Dkafka.version=$KAFKA_VERSION"
    dependency:copy-dependencies -DincludeScope=runtime "-DoutputDirectory=$tmp")
  if [ -n "${EDDY_KAFKA_M2_REPO:-}" ]; then args+=("-Dmaven.repo.local=$EDDY_KAFKA_M2_REPO"); fi
  # Maven's output is shown only on failure (Debian's mvn 3.8 prints stray
  # colour escapes even with -q -B).
  if ! mvn "${args[@]}" >"$tmp.mvn.log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$tmp.mvn.log" >&2
    rm -rf "$tmp" "$tmp.mvn.log"
    die "maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  fi
  rm -f "$tmp.mvn.log"
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after resolve"; }
  touch "$tmp/.complete"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  say "installed $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- config

write_config() {
  mkdir -p "$DATA" "$LOG_DIRS"
  cat >"$CONFIG" <<EOF
# Written by scripts/kafka.sh: single-node KRaft broker for eddy's integration tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$PORT,SASL_PLAINTEXT://$HOST:$SASL_PORT,OAUTH://$HOST:$OAUTH_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT,SASL_PLAINTEXT://$HOST:$SASL_PORT,OAUTH://$HOST:$OAUTH_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,OAUTH:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT

# SCRAM-SHA-512 on the SASL_PLAINTEXT listener; credentials live in the
# metadata log (added at format time with --add-scram).
sasl.enabled.mechanisms=$SASL_MECHANISM,OAUTHBEARER
listener.name.sasl_plaintext.sasl.enabled.mechanisms=$SASL_MECHANISM
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;

# OAUTHBEARER on the OAUTH listener (SASL_PLAINTEXT). No
# oauthbearer.sasl.server.callback.handler.class: Kafka's default unsecured
# validator checks unsigned JWTs (alg none: sub, exp, iat).
listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER
listener.name.oauth.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";

log.dirs=$LOG_DIRS
num.partitions=$PARTITIONS
auto.create.topics.enable=true
delete.topic.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After kill -9 the controller keeps the dead broker's registration until its
# session times out (default 9 s) and refuses the restarted one until then;
# a short session makes "kill9 + start" take seconds, not ~12 s.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
  cat >"$LOG4J_CONFIG" <<'EOF'
# Written by scripts/kafka.sh. Everything goes to stdout, which the script
# appends to broker.log in the data dir.
status = warn
name = eddy-kafka
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
EOF
}

formatted() { [ -f "$LOG_DIRS/meta.properties" ]; }

format_storage() {
  local j cid out
  j=$(java_bin)
  cid=$("$j" -Dlog4j2.configurationFile="file:$TOOLS_LOG4J" -cp "$LIBS/*" "$STORAGE_TOOL" random-uuid 2>>"$LOG_FILE" | tail -n 1)
  [ -n "$cid" ] || die "could not make a cluster id (see $LOG_FILE)"
  say "formatting $LOG_DIRS (cluster id $cid, SCRAM user $SASL_USER)"
  if ! out=$("$j" -Dlog4j2.configurationFile="file:$TOOLS_LOG4J" -cp "$LIBS/*" "$STORAGE_TOOL" format \
    -t "$cid" -c "$CONFIG" \
    --add-scram "$SASL_MECHANISM=[name=$SASL_USER,password=$SASL_PASSWORD]" 2>&1); then
    printf '%s\n' "$out" >&2
    die "formatting the storage failed"
  fi
  printf '%s\n' "$out" >>"$LOG_FILE"
}

# ---------------------------------------------------------------- process

broker_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  pid_alive "$pid" || return 1
  # Guard against a recycled pid: it must be our broker.
  if [ -r "/proc/$pid/cmdline" ]; then
    case "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" in
      *" $MAIN_CLASS "*) ;;
      *) return 1 ;;
    esac
  fi
  echo "$pid"
}

running() { broker_pid >/dev/null; }

# pid_alive PID: the process exists and is not a zombie waiting to be reaped.
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

# Only the PLAINTEXT listener is asked with kcat: Debian 12's kcat links
# librdkafka 2.0.2, whose SCRAM client Kafka 4.x rejects (fixed in librdkafka
# 2.6.1). `scripts/kafka.sh check` tests the SASL listener with the Java client.
kcat_ok() {
  timeout 15 kcat -b "$HOST:$PORT" -L -m 3 >/dev/null 2>&1
}

# wait_ready LOG_OFFSET: until the broker logged "Kafka Server started" (after
# LOG_OFFSET), both listeners accept connections and, with kcat, the PLAINTEXT
# listener serves metadata; fails when the broker dies or after TIMEOUT.
wait_ready() {
  local from=$1 pid deadline=$((SECONDS + TIMEOUT)) started=0
  while :; do
    if ! pid=$(broker_pid); then
      say "the broker exited during startup; last 50 lines of $LOG_FILE:"
      tail -n 50 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      return 1
    fi
    if [ "$started" = 0 ] && tail -c +"$((from + 1))" "$LOG_FILE" 2>/dev/null | grep 'Kafka Server started' >/dev/null; then
      started=1
    fi
    if [ "$started" = 1 ] && port_open "$PORT" && port_open "$SASL_PORT" && port_open "$OAUTH_PORT"; then
      if ! have kcat || kcat_ok; then return 0; fi
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "the broker (pid $pid) was not ready after ${TIMEOUT}s; last 50 lines of $LOG_FILE:"
      tail -n 50 "$LOG_FILE" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

launch() {
  local p
  for p in "$PORT" "$SASL_PORT" "$OAUTH_PORT" "$CONTROLLER_PORT"; do
    if port_open "$p"; then die "port $HOST:$p is already in use by another process"; fi
  done
  local j from t0=$SECONDS
  j=$(java_bin)
  touch "$LOG_FILE"
  from=$(wc -c <"$LOG_FILE")
  printf '=== scripts/kafka.sh: starting Kafka %s at %s ===\n' "$KAFKA_VERSION" "$(date '+%F %T')" >>"$LOG_FILE"
  # setsid: the broker outlives the calling shell/test process group; stdin from
  # /dev/null and stdout/stderr to the log so callers reading our output never
  # wait on it; fd 9 (our lock) closed so the broker does not hold the lock.
  local detach=()
  if have setsid; then detach=(setsid); fi
  # shellcheck disable=SC2086
  "${detach[@]}" "$j" -Xmx"$HEAP" -Xms128m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="file:$LOG4J_CONFIG" -Dkafka.logs.dir="$DATA" \
    ${EDDY_KAFKA_JAVA_OPTS:-} \
    -cp "$LIBS/*" "$MAIN_CLASS" "$CONFIG" \
    </dev/null >>"$LOG_FILE" 2>&1 9>&- &
  echo $! >"$PID_FILE"
  say "started broker pid $! (log: $LOG_FILE); waiting up to ${TIMEOUT}s"
  if ! wait_ready "$from"; then
    stop_broker TERM 10 >/dev/null 2>&1 || true
    return 1
  fi
  say "ready in $((SECONDS - t0))s"
}

# stop_broker SIGNAL GRACE_SECONDS: SIGNAL, wait, then SIGKILL.
stop_broker() {
  local sig=$1 grace=$2 pid i
  if ! pid=$(broker_pid); then rm -f "$PID_FILE"; return 0; fi
  say "stopping broker pid $pid (SIG$sig)"
  kill -"$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then
    say "broker pid $pid still alive after ${grace}s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  fi
  rm -f "$PID_FILE"
}

print_env() {
  cat <<EOF
EDDY_TEST_BROKERS=$HOST:$PORT
EDDY_TEST_SASL_BROKERS=$HOST:$SASL_PORT
EDDY_TEST_SASL_MECHANISM=$SASL_MECHANISM
EDDY_TEST_SASL_USER=$SASL_USER
EDDY_TEST_SASL_PASSWORD=$SASL_PASSWORD
EDDY_TEST_OAUTH_BROKERS=$HOST:$OAUTH_PORT
EOF
}

# Serialize commands that change state (two `up`s at once, up vs down).
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
  if pid=$(broker_pid); then
    say "already running (pid $pid)"
    print_env
    return 0
  fi
  if libs_ok; then cmd_deps || true; else cmd_deps --need-maven || true; fi
  check_java
  cmd_install
  write_config
  formatted || format_storage
  launch
  print_env
}

cmd_start() {
  local pid
  lock
  if pid=$(broker_pid); then
    say "already running (pid $pid)"
    print_env
    return 0
  fi
  if [ ! -f "$CONFIG" ] || ! formatted; then
    die "no formatted data dir at $DATA; run: scripts/kafka.sh up"
  fi
  libs_ok || die "jars missing in $LIBS; run: scripts/kafka.sh up"
  check_java
  launch
  print_env
}

cmd_stop() { lock; stop_broker TERM 30; }

cmd_down() {
  lock
  stop_broker TERM 30
  if [ -d "$DATA" ]; then
    say "removing $DATA"
    rm -rf "$DATA"
  fi
}

cmd_kill9() {
  lock
  local pid i
  if ! pid=$(broker_pid); then say "not running"; return 0; fi
  say "kill -9 broker pid $pid"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  rm -f "$PID_FILE"
}

cmd_status() {
  local pid
  if pid=$(broker_pid); then
    say "running (pid $pid): PLAINTEXT $HOST:$PORT, SASL_PLAINTEXT $HOST:$SASL_PORT ($SASL_MECHANISM), OAUTHBEARER $HOST:$OAUTH_PORT, data $DATA"
    return 0
  fi
  say "not running"
  return 3
}

# check: PLAINTEXT answers, SASL accepts eddy/eddy-secret and refuses a wrong
# password, OAUTHBEARER accepts an unsecured JWT, using the Java client from the cached jars (Check.java).
cmd_check() {
  running || { say "not running"; return 3; }
  libs_ok || die "jars missing in $LIBS; run: scripts/kafka.sh up"
  "$(java_bin)" -Dlog4j2.configurationFile="file:$TOOLS_LOG4J" -cp "$LIBS/*" "$CHECK_JAVA" \
    "$HOST:$PORT" "$HOST:$SASL_PORT" "$SASL_MECHANISM" "$SASL_USER" "$SASL_PASSWORD" "$HOST:$OAUTH_PORT" 2>/dev/null
}

cmd_logs() {
  [ -f "$LOG_FILE" ] || die "no log at $LOG_FILE"
  case "${1:-}" in
    -f) tail -n 100 -f "$LOG_FILE" ;;
    '') tail -n 100 "$LOG_FILE" ;;
    *) tail -n "$1" "$LOG_FILE" ;;
  esac
}

usage() {
  sed -n '/^# Usage:/,/^# SCRAM/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case "$cmd" in
    up) cmd_up ;;
    down) cmd_down ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    kill9) cmd_kill9 ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    env) print_env ;;
    check) cmd_check ;;
    deps) cmd_deps --need-maven ;;
    install) check_java; cmd_install ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
