#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for tests and prints its admin URL.
# Usage: eval "$(scripts/start-test-postgres.sh)"   -> sets TEST_DATABASE_URL and PG_TEST_DIR
#        PGPORT=55462 PG_DURABLE=1 ...               -> another port, durable settings (benchmarks)
# Stop:  scripts/stop-test-postgres.sh "$PG_TEST_DIR"
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v pg_config >/dev/null 2>&1 || [ ! -x "$(pg_config --bindir)/initdb" ]; then
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
PGBIN=$(pg_config --bindir)
PGPORT=${PGPORT:-55432}
PGDIR=$(mktemp -d /tmp/storefront-pg.XXXXXX)
chown postgres:postgres "$PGDIR"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
# Durability is irrelevant for a throwaway test cluster; benchmarks set PG_DURABLE=1 to keep
# PostgreSQL's durable defaults. max_connections covers several server processes.
settings="-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=300"
[ "${PG_DURABLE:-0}" = "1" ] || settings="$settings -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 -o "$settings" start >/dev/null
psql -qh 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE storefront LOGIN CREATEDB PASSWORD 'storefront'" -c "CREATE DATABASE storefront OWNER storefront" >/dev/null
echo "export TEST_DATABASE_URL=postgres://storefront:storefront@127.0.0.1:$PGPORT/storefront"
echo "export PG_TEST_DIR=$PGDIR"
