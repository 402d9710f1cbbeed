#!/usr/bin/env bash
# Starts the integration-test environment: a private MariaDB with the binlog on (ROW, FULL row image)
# and a private Redis, both on loopback ports of their own, with all state under one data dir.
# Idempotent: an instance started earlier by this script and still answering is reused.
# Never touches a MariaDB/Redis on the standard ports. Stop with testenv/down.sh.
#
# Environment:
#   SHIPSYNC_TESTENV_DIR           data dir (default /tmp/shipsync-testenv)
#   SHIPSYNC_TEST_MYSQL_PORT       MariaDB port on 127.0.0.1 (default 23306)
#   SHIPSYNC_TEST_MYSQL_PASSWORD   password of user shipsync (default shipsync)
#   SHIPSYNC_TEST_REDIS_PORT       Redis port on 127.0.0.1 (default 26379)
#   SHIPSYNC_TEST_REDIS_AOF        when set, Redis persists with an append-only file
set -euo pipefail

# shellcheck source=testenv/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_missing() {
	local missing=()
	command -v mariadbd >/dev/null 2>&1 || missing+=(mariadbd)
	command -v mariadb-install-db >/dev/null 2>&1 || missing+=(mariadb-install-db)
	command -v mariadb >/dev/null 2>&1 || missing+=(mariadb)
	command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
	((${#missing[@]} == 0)) && return 0
	if ((EUID != 0)); then
		die "missing ${missing[*]}; install them (Debian: apt-get install mariadb-server mariadb-client redis-server) or run this script as root"
	fi
	log "installing mariadb-server mariadb-client redis-server (missing: ${missing[*]})"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client redis-server >/dev/null
	# The packages start system-wide services on the standard ports on some setups; we leave
	# them alone and run our own instances.
	for bin in mariadbd mariadb-install-db mariadb redis-server; do
		command -v "$bin" >/dev/null 2>&1 || die "$bin still missing after apt-get install"
	done
}

ensure_dirs() {
	mkdir -p "$TESTENV_DIR" "$MARIADB_DIR" "$REDIS_DIR"
	touch "$TESTENV_DIR/.shipsync-testenv"
	# Unix sockets are limited to 107 bytes.
	((${#MARIADB_SOCK} < 100)) || die "SHIPSYNC_TESTENV_DIR is too long for a unix socket path: $MARIADB_SOCK"
}

run_as_args() {
	# mariadbd refuses to run as root unless told so explicitly.
	if ((EUID == 0)); then
		printf '%s\n' --user=root
	fi
}

mariadb_install() {
	[[ -f $MARIADB_DATA/.installed ]] && return 0
	log "initialising MariaDB datadir $MARIADB_DATA"
	rm -rf "$MARIADB_DATA"
	mkdir -p "$MARIADB_DATA"
	local -a user_args
	mapfile -t user_args < <(run_as_args)
	if ! mariadb-install-db --no-defaults --datadir="$MARIADB_DATA" "${user_args[@]}" \
		--auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
		>"$MARIADB_DIR/install.log" 2>&1; then
		tail -n 30 "$MARIADB_DIR/install.log" >&2 || true
		die "mariadb-install-db failed (log: $MARIADB_DIR/install.log)"
	fi
	touch "$MARIADB_DATA/.installed"
}

mariadb_start() {
	local pid
	if pid=$(pid_of "$MARIADB_PID" mariadbd); then
		if wait_mariadb "$pid" 60; then
			log "reusing MariaDB (pid $pid)"
			return 0
		fi
		die "MariaDB (pid $pid, from $MARIADB_PID) is running but does not answer on $MARIADB_SOCK; run testenv/down.sh"
	fi
	rm -f "$MARIADB_PID" "$MARIADB_SOCK"
	if port_in_use "$MYSQL_PORT"; then
		die "port 127.0.0.1:$MYSQL_PORT is taken by a process we did not start; set SHIPSYNC_TEST_MYSQL_PORT"
	fi
	mariadb_install
	local -a user_args
	mapfile -t user_args < <(run_as_args)
	log "starting MariaDB on 127.0.0.1:$MYSQL_PORT"
	# setsid + nohup: the server outlives this script and its terminal.
	setsid nohup mariadbd --no-defaults \
		--datadir="$MARIADB_DATA" --socket="$MARIADB_SOCK" --port="$MYSQL_PORT" \
		--bind-address=127.0.0.1 "${user_args[@]}" \
		--pid-file="$MARIADB_PID" --log-error="$MARIADB_LOG" \
		--log-bin=mysql-bin --binlog-format=ROW --binlog-row-image=FULL --server-id=1 \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
		--skip-name-resolve --max-connections=500 --max-allowed-packet=64M \
		--innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
		--innodb-doublewrite=0 \
		</dev/null >"$MARIADB_DIR/launch.log" 2>&1 &
	pid=$!
	if ! wait_mariadb "$pid" 60; then
		tail -n 30 "$MARIADB_LOG" "$MARIADB_DIR/launch.log" >&2 2>/dev/null || true
		die "MariaDB did not come up within 60 s (log: $MARIADB_LOG)"
	fi
}

# wait_mariadb PID SECONDS: polls until the server answers on its socket; fails early if it dies.
wait_mariadb() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		mariadb_ping && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

mariadb_users() {
	# Password goes through stdin, never the command line. ALL PRIVILEGES covers CREATE/DROP
	# DATABASE for tests and REPLICATION SLAVE/CLIENT for binlog tailing.
	local pw=${MYSQL_PASSWORD//\\/\\\\}
	pw=${pw//\'/\\\'}
	mariadb_sql <<-SQL || die "creating user shipsync failed"
		CREATE USER IF NOT EXISTS 'shipsync'@'127.0.0.1' IDENTIFIED BY '$pw';
		CREATE USER IF NOT EXISTS 'shipsync'@'localhost' IDENTIFIED BY '$pw';
		ALTER USER 'shipsync'@'127.0.0.1' IDENTIFIED BY '$pw';
		ALTER USER 'shipsync'@'localhost' IDENTIFIED BY '$pw';
		GRANT ALL PRIVILEGES ON *.* TO 'shipsync'@'127.0.0.1' WITH GRANT OPTION;
		GRANT ALL PRIVILEGES ON *.* TO 'shipsync'@'localhost' WITH GRANT OPTION;
	SQL
}

redis_start() {
	local pid i
	if pid=$(pid_of "$REDIS_PID" redis-server); then
		for ((i = 0; i < 100; i++)); do
			if redis_ping; then
				log "reusing Redis (pid $pid)"
				return 0
			fi
			sleep 0.1
		done
		die "Redis (pid $pid, from $REDIS_PID) is running but does not answer PING on 127.0.0.1:$REDIS_PORT; run testenv/down.sh"
	fi
	rm -f "$REDIS_PID"
	if port_in_use "$REDIS_PORT"; then
		die "port 127.0.0.1:$REDIS_PORT is taken by a process we did not start; set SHIPSYNC_TEST_REDIS_PORT"
	fi
	log "starting Redis on 127.0.0.1:$REDIS_PORT"
	local persist=(--appendonly no)
	if [[ -n ${SHIPSYNC_TEST_REDIS_AOF:-} ]]; then
		# Durability tests restart Redis and expect it back with its data, as production runs it.
		persist=(--appendonly yes --appendfsync always)
	fi
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' "${persist[@]}" \
		--dir "$REDIS_DIR" --daemonize yes --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" \
		</dev/null >/dev/null 2>&1 || {
		tail -n 20 "$REDIS_LOG" >&2 2>/dev/null || true
		die "redis-server failed to start (log: $REDIS_LOG)"
	}
	for ((i = 0; i < 300; i++)); do
		redis_ping && return 0
		sleep 0.1
	done
	tail -n 20 "$REDIS_LOG" >&2 2>/dev/null || true
	die "Redis did not answer PING within 30 s (log: $REDIS_LOG)"
}

install_missing
ensure_dirs
mariadb_start
mariadb_users
redis_start
echo "testenv up: mariadb 127.0.0.1:$MYSQL_PORT (user shipsync), redis 127.0.0.1:$REDIS_PORT (data in $TESTENV_DIR)"
