#!/usr/bin/env bash
# Stops the MariaDB and Redis started by testenv/up.sh (only those: found through the pid files in
# the testenv data dir). Idempotent. With --purge, also deletes the data dir.
#
# Environment: SHIPSYNC_TESTENV_DIR as for up.sh.
set -euo pipefail

# shellcheck source=testenv/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=false
for arg in "$@"; do
	case $arg in
	--purge) purge=true ;;
	-h | --help)
		echo "usage: $0 [--purge]"
		exit 0
		;;
	*) die "unknown argument: $arg (usage: $0 [--purge])" ;;
	esac
done

# Both at once: each waits on its own, so the slow one does not delay the other.
stop_pid MariaDB "$MARIADB_PID" mariadbd &
m=$!
stop_pid Redis "$REDIS_PID" redis-server &
r=$!
rc=0
wait "$m" || rc=1
wait "$r" || rc=1
((rc == 0)) || die "stopping failed"

if $purge && [[ -d $TESTENV_DIR ]]; then
	# Only delete a dir that up.sh created: a typo in SHIPSYNC_TESTENV_DIR must not wipe anything else.
	[[ -f $TESTENV_DIR/.shipsync-testenv ]] || die "$TESTENV_DIR has no .shipsync-testenv marker; not deleting it"
	rm -rf -- "$TESTENV_DIR"
	log "purged $TESTENV_DIR"
fi
echo "testenv down"
