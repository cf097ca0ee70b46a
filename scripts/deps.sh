#!/usr/bin/env bash
# Runs the services the tests need, natively (no Docker):
#   redis  127.0.0.1:6379
#   etcd   127.0.0.1:2379 (client) / 127.0.0.1:2380 (peer)      - Debian etcd-server (v3.4)
#   kafka  127.0.0.1:9092 (broker) / 127.0.0.1:9093 (controller) - single-node KRaft, jars from Maven Central
#   prometheus   127.0.0.1:9090 - Debian prometheus; config <state>/prometheus/prometheus.yml, which tests
#                rewrite (test/fixtures/monitoring.ts) and then POST /-/reload (--web.enable-lifecycle)
#   alertmanager 127.0.0.1:9095 (not 9093: Kafka's controller) - Debian prometheus-alertmanager, no
#                clustering; config <state>/alertmanager/alertmanager.yml, rewritten and reloaded the same way
#
# Usage: scripts/deps.sh start  [SERVICE ...]   start (idempotent: a service already answering is left as is)
#        scripts/deps.sh stop   [SERVICE ...]   stop what this script started (never a Redis it did not start)
#        scripts/deps.sh status [SERVICE ...]   one line per service; exit 1 if any is down
#        (SERVICE: redis etcd kafka prometheus alertmanager; none = all)
#        scripts/deps.sh restart [...]
#        scripts/deps.sh kafka-topics ARGS...            run Kafka's TopicCommand against 127.0.0.1:9092
#
# Env: DEPS_STATE_DIR (default <repo>/.deps/state): pid files, logs, data
#      DEPS_KAFKA_LIBS (default <repo>/.deps/kafka/libs): Kafka jars
#      DEPS_KAFKA_TIMEOUT (default 90), DEPS_ETCD_TIMEOUT (30), DEPS_REDIS_TIMEOUT (15),
#      DEPS_PROMETHEUS_TIMEOUT (30), DEPS_ALERTMANAGER_TIMEOUT (30): seconds to wait until it answers
#      DEPS_REDIS_PORT (default 6379; for testing the script)
#      KAFKA_HEAP_OPTS (default "-Xmx512m -Xms256m"), KAFKA_JVM_OPTS (extra JVM flags for the broker)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
STATE_DIR="${DEPS_STATE_DIR:-$REPO_ROOT/.deps/state}"
KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"
KAFKA_LIBS="${DEPS_KAFKA_LIBS:-$REPO_ROOT/.deps/kafka/libs}"

HOST=127.0.0.1
REDIS_PORT="${DEPS_REDIS_PORT:-6379}"
ETCD_PORT=2379
ETCD_PEER_PORT=2380
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
PROMETHEUS_PORT=9090
ALERTMANAGER_PORT=9095

KAFKA_TIMEOUT="${DEPS_KAFKA_TIMEOUT:-90}"
ETCD_TIMEOUT="${DEPS_ETCD_TIMEOUT:-30}"
REDIS_TIMEOUT="${DEPS_REDIS_TIMEOUT:-15}"
PROMETHEUS_TIMEOUT="${DEPS_PROMETHEUS_TIMEOUT:-30}"
ALERTMANAGER_TIMEOUT="${DEPS_ALERTMANAGER_TIMEOUT:-30}"

ALL_SERVICES=(redis etcd kafka prometheus alertmanager)

log() { echo "[deps] $*" >&2; }
die() { echo "[deps] ERROR: $*" >&2; exit 1; }

# die with the tail of a log file
die_with_log() { # <message> <logfile>
  echo "[deps] ERROR: $1" >&2
  if [[ -s "$2" ]]; then
    echo "[deps] ---- last 40 lines of $2 ----" >&2
    tail -n 40 "$2" >&2 || true
    echo "[deps] ---- end of $2 ----" >&2
  else
    echo "[deps] (log $2 is empty or missing)" >&2
  fi
  exit 1
}

now() { date +%s; }

tcp_open() { # <port>
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

pid_alive() { # <pid>
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null
}

# pid from <pidfile> if that process is alive and its command line contains <pattern>
managed_pid() { # <pidfile> <pattern>
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(tr -dc '0-9' <"$1")"
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
  echo "$pid"
}

# Waits until <up_fn> answers; dies with the log's tail if <pid> (when not empty) exits first or
# <timeout> seconds pass ("<name> <failure> within <timeout>s").
await_up() { # <name> <up_fn> <pid> <timeout> <logfile> <failure> <poll seconds>
  local deadline=$(( $(now) + $4 ))
  until "$2"; do
    [[ -z "$3" ]] || pid_alive "$3" || die_with_log "$1 exited during startup" "$5"
    (( $(now) < deadline )) || die_with_log "$1 $6 within ${4}s" "$5"
    sleep "$7"
  done
}

# One status line: up or down, and whether this script started it (managed) or not (external).
service_status() { # <label, padded> <up_fn> <pidfile> <cmdline pattern> <port>
  local who=external
  managed_pid "$3" "$4" >/dev/null && who=managed
  if "$2"; then echo "$1 up    $HOST:$5 ($who)"; else echo "$1 down  $HOST:$5"; return 1; fi
}

as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

apt_install() { # <packages...>
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: $*"
  log "installing Debian packages: $* (apt-get update first)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    || die "apt-get update failed"
  # No init system here: a postinst that tries to start the packaged service must not block or fail.
  as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed"
}

# Start "$@" detached (own session, stdin from /dev/null, output to <logfile>) and write its pid to <pidfile>.
spawn() { # <pidfile> <logfile> <cmd...>
  local pidfile="$1" logfile="$2"; shift 2
  rm -f "$pidfile"
  # The inner bash writes its own pid and execs the command, so the pid is right even if setsid forks.
  nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  local i
  for i in $(seq 1 50); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.1
  done
  die_with_log "could not start: $*" "$logfile"
}

stop_pid() { # <name> <pidfile> <pattern> <timeout>
  local name="$1" pidfile="$2" pattern="$3" timeout="$4" pid deadline
  if ! pid="$(managed_pid "$pidfile" "$pattern")"; then
    rm -f "$pidfile"
    return 1
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( $(now) + timeout ))
  while pid_alive "$pid"; do
    if (( $(now) >= deadline )); then
      log "$name did not exit within ${timeout}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  log "$name stopped"
}

# ----------------------------------------------------------------------------- redis
REDIS_PIDFILE="$STATE_DIR/redis.pid"
REDIS_LOG="$STATE_DIR/redis.log"

redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(timeout 3 redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
  else
    local reply
    reply="$(timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$REDIS_PORT; printf 'PING\r\n' >&3; head -c 5 <&3" 2>/dev/null)" || return 1
    [[ "$reply" == "+PONG" ]]
  fi
}

redis_start() {
  if redis_up; then
    if managed_pid "$REDIS_PIDFILE" redis-server >/dev/null; then
      log "redis already running on $HOST:$REDIS_PORT (started by this script)"
    else
      log "redis already running on $HOST:$REDIS_PORT (not started by this script; left alone)"
    fi
    return 0
  fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  mkdir -p "$STATE_DIR/redis"
  : >"$REDIS_LOG"
  log "starting redis on $HOST:$REDIS_PORT"
  redis-server --daemonize yes --bind "$HOST" --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$STATE_DIR/redis" --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" 9>&- \
    || die_with_log "redis-server failed to start" "$REDIS_LOG"
  await_up redis redis_up "" "$REDIS_TIMEOUT" "$REDIS_LOG" "did not answer PING on $HOST:$REDIS_PORT" 0.2
  log "redis up on $HOST:$REDIS_PORT"
}

redis_stop() {
  stop_pid redis "$REDIS_PIDFILE" redis-server 15 \
    || log "redis: not started by this script; not stopping it"
}

redis_status() {
  service_status "redis " redis_up "$REDIS_PIDFILE" redis-server "$REDIS_PORT"
}

# ----------------------------------------------------------------------------- etcd
ETCD_PIDFILE="$STATE_DIR/etcd.pid"
ETCD_LOG="$STATE_DIR/etcd.log"

etcd_up() {
  curl -fsS --max-time 3 "http://$HOST:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'
}

etcd_start() {
  if etcd_up; then
    log "etcd already running on $HOST:$ETCD_PORT; left as is"
    return 0
  fi
  if managed_pid "$ETCD_PIDFILE" etcd >/dev/null; then
    log "etcd process from an earlier start is alive but not healthy; restarting it"
    etcd_stop
  fi
  if ! command -v etcd >/dev/null 2>&1; then
    apt_install etcd-server etcd-client
    # The package may have started its own etcd through an init script (none on a machine without systemd,
    # but be safe): it would hold our ports.
    if [[ -x /etc/init.d/etcd ]]; then as_root /etc/init.d/etcd stop >/dev/null 2>&1 || true; fi
  fi
  command -v etcd >/dev/null 2>&1 || die "etcd binary not found after installing etcd-server"
  mkdir -p "$STATE_DIR/etcd"
  : >"$ETCD_LOG"
  log "starting etcd on $HOST:$ETCD_PORT"
  # ETCD_* variables in the environment would override/conflict with the flags below
  local v; for v in $(env | grep -o '^ETCD_[A-Z_]*' || true); do unset "$v"; done
  spawn "$ETCD_PIDFILE" "$ETCD_LOG" etcd \
    --name deps \
    --data-dir "$STATE_DIR/etcd/data" \
    --listen-client-urls "http://$HOST:$ETCD_PORT" \
    --advertise-client-urls "http://$HOST:$ETCD_PORT" \
    --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
    --initial-cluster "deps=http://$HOST:$ETCD_PEER_PORT" \
    --initial-cluster-state new \
    --initial-cluster-token deps \
    --logger zap --log-outputs stderr
  local pid; pid="$(cat "$ETCD_PIDFILE")"
  await_up etcd etcd_up "$pid" "$ETCD_TIMEOUT" "$ETCD_LOG" "not healthy on $HOST:$ETCD_PORT" 0.3
  log "etcd up on $HOST:$ETCD_PORT (pid $pid)"
}

etcd_stop() {
  stop_pid etcd "$ETCD_PIDFILE" etcd 20 || log "etcd: not running (from this script)"
}

etcd_status() {
  service_status "etcd  " etcd_up "$ETCD_PIDFILE" etcd "$ETCD_PORT"
}

# ----------------------------------------------------------------------------- kafka
KAFKA_DIR="$STATE_DIR/kafka"
KAFKA_PIDFILE="$STATE_DIR/kafka.pid"
KAFKA_LOG="$STATE_DIR/kafka.log"
KAFKA_MAIN=kafka.Kafka
KAFKA_STORAGE_TOOL=kafka.tools.StorageTool
KAFKA_TOPIC_TOOL=org.apache.kafka.tools.TopicCommand

ensure_java() {
  if ! command -v java >/dev/null 2>&1; then
    apt_install openjdk-17-jre-headless
  fi
  local major
  major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
  [[ -n "$major" && "$major" -ge 17 ]] || die "Kafka 4.x needs Java 17+, found: $(java -version 2>&1 | head -n1)"
}

# Fetch the jars listed by scripts/kafka/pom.xml, once (redone when the pom changes).
ensure_kafka_libs() {
  local stamp="$KAFKA_LIBS/.complete" want
  want="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || apt_install maven
  log "fetching Kafka jars with Maven into $KAFKA_LIBS (first run only)"
  local tmp="$KAFKA_LIBS.tmp.$$" mvnlog="$STATE_DIR/kafka-mvn.log"
  rm -rf "$tmp"
  if ! mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
    rm -rf "$tmp"
    die_with_log "Maven could not fetch the Kafka jars (pom: $KAFKA_POM)" "$mvnlog"
  fi
  echo "$want" >"$tmp/.complete"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  log "Kafka jars ready ($(ls "$KAFKA_LIBS" | wc -l) files)"
}

write_kafka_config() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<EOF
# written by scripts/deps.sh - single-node KRaft (combined broker + controller)
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=6
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF
  # broker logs: INFO to stdout (redirected to kafka.log), chatty loggers quieter
  cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = info
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.statechange.name = state.change.logger
logger.statechange.level = warn
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
EOF
  # CLI tools: warnings only, to stderr
  cat >"$KAFKA_DIR/log4j2-tools.properties" <<'EOF'
status = error
appender.console.type = Console
appender.console.name = STDERR
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = STDERR
EOF
  cat >"$KAFKA_DIR/tools.properties" <<'EOF'
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

# run a Kafka CLI class (light JVM: C1 only, small heap)
kafka_tool() { # <main class> <args...>
  local cls="$1"; shift
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2-tools.properties" \
    -cp "$KAFKA_LIBS/*" "$cls" "$@"
}

kafka_format_if_needed() {
  [[ -f "$KAFKA_DIR/data/meta.properties" ]] && return 0
  local id=""
  # Kafka cluster id: 16 random bytes, base64url without padding; must not start with '-'
  while [[ -z "$id" || "$id" == -* ]]; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  log "formatting Kafka storage (cluster id $id)"
  kafka_tool "$KAFKA_STORAGE_TOOL" format -t "$id" -c "$KAFKA_DIR/server.properties" --ignore-formatted \
    >>"$KAFKA_LOG" 2>&1 || die_with_log "Kafka storage format failed" "$KAFKA_LOG"
}

# A TCP connect is not enough: the broker must answer a metadata request.
kafka_up() {
  tcp_open "$KAFKA_PORT" || return 1
  [[ -d "$KAFKA_LIBS" ]] && [[ -f "$KAFKA_DIR/tools.properties" ]] || return 1
  timeout 20 java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2-tools.properties" \
    -cp "$KAFKA_LIBS/*" "$KAFKA_TOPIC_TOOL" --bootstrap-server "$HOST:$KAFKA_PORT" \
    --command-config "$KAFKA_DIR/tools.properties" --list >/dev/null 2>&1
}

kafka_start() {
  local pid
  if pid="$(managed_pid "$KAFKA_PIDFILE" "$KAFKA_MAIN")" && kafka_up; then
    log "kafka already running on $HOST:$KAFKA_PORT (pid $pid); left as is"
    return 0
  fi
  if [[ -z "${pid:-}" ]] && tcp_open "$KAFKA_PORT"; then
    # another checkout's (or a user's) broker: probing it needs the tools and their config here
    ensure_java
    ensure_kafka_libs
    write_kafka_config
    if kafka_up; then
      log "kafka already running on $HOST:$KAFKA_PORT (not started by this script); left as is"
      return 0
    fi
    die "port $KAFKA_PORT is taken by another process that is not a working Kafka broker:
$(ss -ltnp "sport = :$KAFKA_PORT" 2>/dev/null || true)"
  fi
  ensure_java
  ensure_kafka_libs
  if [[ -n "${pid:-}" ]]; then
    # ours, alive, not answering yet: maybe still starting
    log "kafka (pid $pid) is running but not answering yet; waiting for it"
  else
    write_kafka_config
    : >"$KAFKA_LOG"
    kafka_format_if_needed
    log "starting kafka on $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT)"
    # shellcheck disable=SC2086
    spawn "$KAFKA_PIDFILE" "$KAFKA_LOG" java ${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m} \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
      ${KAFKA_JVM_OPTS:-} \
      -cp "$KAFKA_LIBS/*" "$KAFKA_MAIN" "$KAFKA_DIR/server.properties"
    pid="$(cat "$KAFKA_PIDFILE")"
  fi
  local start; start=$(now)
  await_up kafka kafka_up "$pid" "$KAFKA_TIMEOUT" "$KAFKA_LOG" "did not answer on $HOST:$KAFKA_PORT" 1
  log "kafka up on $HOST:$KAFKA_PORT (pid $pid, $(( $(now) - start ))s)"
}

kafka_stop() {
  stop_pid kafka "$KAFKA_PIDFILE" "$KAFKA_MAIN" 45 || log "kafka: not running (from this script)"
}

kafka_status() {
  service_status "kafka " kafka_up "$KAFKA_PIDFILE" "$KAFKA_MAIN" "$KAFKA_PORT"
}

# ----------------------------------------------------------------------------- prometheus
# Tests point it at their own nodes: they rewrite $PROMETHEUS_CONFIG and POST /-/reload, so the
# one written here only has to be valid. Short retention: nothing here outlives a test run.
PROMETHEUS_DIR="$STATE_DIR/prometheus"
PROMETHEUS_CONFIG="$PROMETHEUS_DIR/prometheus.yml"
PROMETHEUS_PIDFILE="$STATE_DIR/prometheus.pid"
PROMETHEUS_LOG="$STATE_DIR/prometheus.log"

prometheus_up() {
  curl -fsS --max-time 3 "http://$HOST:$PROMETHEUS_PORT/-/ready" >/dev/null 2>&1
}

write_prometheus_config() {
  mkdir -p "$PROMETHEUS_DIR/data"
  cat >"$PROMETHEUS_CONFIG" <<EOF
# written by scripts/deps.sh; tests replace it (test/fixtures/monitoring.ts) and reload
global:
  scrape_interval: 15s
  evaluation_interval: 15s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["$HOST:$ALERTMANAGER_PORT"]
scrape_configs: []
EOF
}

prometheus_start() {
  if prometheus_up; then
    if managed_pid "$PROMETHEUS_PIDFILE" "$PROMETHEUS_CONFIG" >/dev/null; then
      log "prometheus already running on $HOST:$PROMETHEUS_PORT (started by this script); left as is"
    else
      log "prometheus already running on $HOST:$PROMETHEUS_PORT (not started by this script); left as is"
    fi
    return 0
  fi
  if managed_pid "$PROMETHEUS_PIDFILE" "$PROMETHEUS_CONFIG" >/dev/null; then
    log "prometheus process from an earlier start is alive but not ready; restarting it"
    prometheus_stop
  fi
  if tcp_open "$PROMETHEUS_PORT"; then
    die "port $PROMETHEUS_PORT is taken by a process that is not a ready Prometheus:
$(ss -ltnp "sport = :$PROMETHEUS_PORT" 2>/dev/null || true)"
  fi
  if ! command -v prometheus >/dev/null 2>&1; then
    apt_install prometheus
    # the package may start its own server on :9090 through an init script (none without an init system, but be safe)
    if [[ -x /etc/init.d/prometheus ]]; then as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true; fi
  fi
  write_prometheus_config
  : >"$PROMETHEUS_LOG"
  log "starting prometheus on $HOST:$PROMETHEUS_PORT"
  spawn "$PROMETHEUS_PIDFILE" "$PROMETHEUS_LOG" prometheus \
    --config.file="$PROMETHEUS_CONFIG" \
    --storage.tsdb.path="$PROMETHEUS_DIR/data" \
    --storage.tsdb.retention.time=2h \
    --web.listen-address="$HOST:$PROMETHEUS_PORT" \
    --web.enable-lifecycle \
    --log.level=warn
  local pid; pid="$(cat "$PROMETHEUS_PIDFILE")"
  await_up prometheus prometheus_up "$pid" "$PROMETHEUS_TIMEOUT" "$PROMETHEUS_LOG" "not ready on $HOST:$PROMETHEUS_PORT" 0.3
  log "prometheus up on $HOST:$PROMETHEUS_PORT (pid $pid, config $PROMETHEUS_CONFIG)"
}

prometheus_stop() {
  stop_pid prometheus "$PROMETHEUS_PIDFILE" "$PROMETHEUS_CONFIG" 20 || log "prometheus: not running (from this script)"
}

prometheus_status() {
  service_status "prometheus   " prometheus_up "$PROMETHEUS_PIDFILE" "$PROMETHEUS_CONFIG" "$PROMETHEUS_PORT"
}

# ----------------------------------------------------------------------------- alertmanager
# Alertmanager has no --web.enable-lifecycle flag: its POST /-/reload is always on.
ALERTMANAGER_DIR="$STATE_DIR/alertmanager"
ALERTMANAGER_CONFIG="$ALERTMANAGER_DIR/alertmanager.yml"
ALERTMANAGER_PIDFILE="$STATE_DIR/alertmanager.pid"
ALERTMANAGER_LOG="$STATE_DIR/alertmanager.log"

alertmanager_bin() {
  if command -v prometheus-alertmanager >/dev/null 2>&1; then echo prometheus-alertmanager
  elif command -v alertmanager >/dev/null 2>&1; then echo alertmanager
  else return 1; fi
}

alertmanager_up() {
  curl -fsS --max-time 3 "http://$HOST:$ALERTMANAGER_PORT/-/ready" >/dev/null 2>&1
}

write_alertmanager_config() {
  mkdir -p "$ALERTMANAGER_DIR/data"
  cat >"$ALERTMANAGER_CONFIG" <<'EOF'
# written by scripts/deps.sh; tests replace it (test/fixtures/monitoring.ts) and reload
route:
  receiver: none
receivers:
  - name: none
EOF
}

alertmanager_start() {
  if alertmanager_up; then
    if managed_pid "$ALERTMANAGER_PIDFILE" "$ALERTMANAGER_CONFIG" >/dev/null; then
      log "alertmanager already running on $HOST:$ALERTMANAGER_PORT (started by this script); left as is"
    else
      log "alertmanager already running on $HOST:$ALERTMANAGER_PORT (not started by this script); left as is"
    fi
    return 0
  fi
  if managed_pid "$ALERTMANAGER_PIDFILE" "$ALERTMANAGER_CONFIG" >/dev/null; then
    log "alertmanager process from an earlier start is alive but not ready; restarting it"
    alertmanager_stop
  fi
  if tcp_open "$ALERTMANAGER_PORT"; then
    die "port $ALERTMANAGER_PORT is taken by a process that is not a ready Alertmanager:
$(ss -ltnp "sport = :$ALERTMANAGER_PORT" 2>/dev/null || true)"
  fi
  local bin
  if ! bin="$(alertmanager_bin)"; then
    apt_install prometheus-alertmanager
    if [[ -x /etc/init.d/prometheus-alertmanager ]]; then as_root /etc/init.d/prometheus-alertmanager stop >/dev/null 2>&1 || true; fi
    bin="$(alertmanager_bin)" || die "alertmanager binary not found after installing prometheus-alertmanager"
  fi
  write_alertmanager_config
  : >"$ALERTMANAGER_LOG"
  log "starting alertmanager on $HOST:$ALERTMANAGER_PORT"
  # an empty --cluster.listen-address turns gossip off: one instance, and nothing listens on 9094
  spawn "$ALERTMANAGER_PIDFILE" "$ALERTMANAGER_LOG" "$bin" \
    --config.file="$ALERTMANAGER_CONFIG" \
    --storage.path="$ALERTMANAGER_DIR/data" \
    --data.retention=2h \
    --web.listen-address="$HOST:$ALERTMANAGER_PORT" \
    --cluster.listen-address= \
    --log.level=warn
  local pid; pid="$(cat "$ALERTMANAGER_PIDFILE")"
  await_up alertmanager alertmanager_up "$pid" "$ALERTMANAGER_TIMEOUT" "$ALERTMANAGER_LOG" "not ready on $HOST:$ALERTMANAGER_PORT" 0.3
  log "alertmanager up on $HOST:$ALERTMANAGER_PORT (pid $pid, config $ALERTMANAGER_CONFIG)"
}

alertmanager_stop() {
  stop_pid alertmanager "$ALERTMANAGER_PIDFILE" "$ALERTMANAGER_CONFIG" 20 || log "alertmanager: not running (from this script)"
}

alertmanager_status() {
  service_status "alertmanager " alertmanager_up "$ALERTMANAGER_PIDFILE" "$ALERTMANAGER_CONFIG" "$ALERTMANAGER_PORT"
}

# ----------------------------------------------------------------------------- main
usage() {
  sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

services_from_args() {
  if (( $# == 0 )); then echo "${ALL_SERVICES[@]}"; return; fi
  local s
  for s in "$@"; do
    case "$s" in redis|etcd|kafka|prometheus|alertmanager) ;; *) die "unknown service '$s' (expected: ${ALL_SERVICES[*]})" ;; esac
  done
  echo "$@"
}

# fd 9 holds the lock; every process started from here closes it (9>&-), or a daemon would keep it forever
with_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  flock -w 300 9 || die "another deps.sh is busy (lock $STATE_DIR/.lock)"
}

main() {
  local cmd="${1:-}"; shift || true
  local svc rc=0
  case "$cmd" in
    start)
      with_lock
      for svc in $(services_from_args "$@"); do "${svc}_start"; done
      ;;
    stop)
      with_lock
      # stop in reverse order
      local list; read -r -a list <<<"$(services_from_args "$@")"
      local i; for (( i=${#list[@]}-1; i>=0; i-- )); do "${list[i]}_stop"; done
      ;;
    restart)
      "$0" stop "$@"
      "$0" start "$@"
      ;;
    status)
      for svc in $(services_from_args "$@"); do "${svc}_status" || rc=1; done
      return "$rc"
      ;;
    kafka-topics)
      ensure_java
      ensure_kafka_libs
      [[ -f "$KAFKA_DIR/log4j2-tools.properties" ]] || write_kafka_config
      kafka_tool "$KAFKA_TOPIC_TOOL" --bootstrap-server "$HOST:$KAFKA_PORT" "$@"
      ;;
    -h|--help|help)
      usage
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
