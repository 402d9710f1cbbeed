# shellcheck shell=bash
# Shared settings and helpers for testenv/up.sh and testenv/down.sh. Sourced, not executed.
#
# Everything lives in one data dir so that the scripts only ever touch what they started:
#   $TESTENV_DIR/.shipsync-testenv     marker: this dir belongs to testenv (down.sh --purge checks it)
#   $TESTENV_DIR/mariadb/data          MariaDB datadir (binlogs mysql-bin.* are in here)
#   $TESTENV_DIR/mariadb/mariadbd.sock, mariadbd.pid, error.log, launch.log
#   $TESTENV_DIR/redis/                redis.pid, redis.log (no persistence: --save '' --appendonly no)

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

TESTENV_DIR="${SHIPSYNC_TESTENV_DIR:-/tmp/shipsync-testenv}"
MYSQL_PORT="${SHIPSYNC_TEST_MYSQL_PORT:-23306}"
MYSQL_PASSWORD="${SHIPSYNC_TEST_MYSQL_PASSWORD:-shipsync}"
REDIS_PORT="${SHIPSYNC_TEST_REDIS_PORT:-26379}"

MARIADB_DIR="$TESTENV_DIR/mariadb"
MARIADB_DATA="$MARIADB_DIR/data"
MARIADB_SOCK="$MARIADB_DIR/mariadbd.sock"
MARIADB_PID="$MARIADB_DIR/mariadbd.pid"
MARIADB_LOG="$MARIADB_DIR/error.log"
REDIS_DIR="$TESTENV_DIR/redis"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

log() { printf 'testenv: %s\n' "$*" >&2; }
die() {
	printf 'testenv: error: %s\n' "$*" >&2
	exit 1
}

# pid_of FILE PROGRAM: prints the pid recorded in FILE if that process is alive and is PROGRAM
# (guards against a stale pid file whose pid was reused by something else).
pid_of() {
	local file=$1 prog=$2 pid comm
	[[ -s $file ]] || return 1
	pid=$(tr -dc '0-9' <"$file")
	[[ -n $pid ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
	if [[ -n $comm && $comm != "$prog"* ]]; then
		return 1
	fi
	printf '%s\n' "$pid"
}

# mariadb_sql: runs SQL from stdin as root over our private socket.
mariadb_sql() {
	mariadb --no-defaults --protocol=socket --socket="$MARIADB_SOCK" -uroot --batch --skip-column-names "$@"
}

mariadb_ping() {
	[[ -S $MARIADB_SOCK ]] || return 1
	mariadb_sql -e 'SELECT 1' >/dev/null 2>&1
}

redis_ping() {
	if command -v redis-cli >/dev/null 2>&1; then
		[[ $(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
		return
	fi
	# No redis-cli: speak RESP over bash's /dev/tcp (connecting to loopback never hangs; the read
	# is bounded).
	local line=""
	{ exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT"; } 2>/dev/null || return 1
	printf 'PING\r\n' >&3
	IFS= read -r -t 3 line <&3 || true
	exec 3>&-
	[[ ${line%$'\r'} == +PONG ]]
}

# port_in_use PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# stop_pid NAME PIDFILE PROGRAM: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
	local name=$1 file=$2 prog=$3 pid i
	if ! pid=$(pid_of "$file" "$prog"); then
		rm -f "$file"
		return 0
	fi
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name (pid $pid) still running after 30 s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$file"
}
