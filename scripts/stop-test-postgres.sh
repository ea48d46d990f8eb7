#!/usr/bin/env bash
# Stops a cluster started by start-test-postgres.sh, by its postmaster PID, and removes it.
set -uo pipefail
dir=${1:?usage: stop-test-postgres.sh <PG_TEST_DIR>}
if [ -f "$dir/data/postmaster.pid" ]; then
  kill -INT "$(head -n1 "$dir/data/postmaster.pid")" 2>/dev/null || true
  for _ in $(seq 1 50); do [ -f "$dir/data/postmaster.pid" ] || break; sleep 0.2; done
fi
rm -rf "$dir"
