#!/usr/bin/env bash
# Runs a command with the test environment up: starts MariaDB and Redis when they are not
# running, runs the command, and stops afterwards only what it started itself.
#   testenv/with.sh go test ./...
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=testenv/lib.sh
source "$here/lib.sh"

started=0
if ! pid_of "$MARIADB_PID" mariadbd >/dev/null || ! pid_of "$REDIS_PID" redis-server >/dev/null; then
	started=1
fi
bash "$here/up.sh"
if ((started)); then
	trap 'bash "$here/down.sh"' EXIT
fi
"$@"
