#!/usr/bin/env bash
# AdCP fuzzing of the agent at /mcp (issue 14): starts ONE live server (npm start's command) on a free
# loopback port with a fresh data dir, makes two storefronts with a sandbox buyer key each (tenant A is
# the bootstrap storefront, tenant B a second one made by `storefront keys create --storefront <new
# name>`, which creates the storefront), resets both sandboxes, then for each seed runs
#
#   adcp fuzz <url>/mcp --auth-token <A> --auth-token-cross-tenant <B> --auto-seed --seed <n> --format json
#
# and gates on its JSON report, never its exit code alone: totalFailures == 0 (every answer a schema-valid
# success or a well-formed AdCP error), no uniform-error invariant `fail`, and the media-buy probe run in
# cross-tenant mode (tenant A's seeded buy asked for by tenant B answers byte-for-byte like an unknown
# id) — a run whose seeder created nothing would fall back to the weaker baseline mode and is refused.
#
#   scripts/fuzz.sh [seed...]          (default seeds: 1 2 3)
#
# Sandbox keys, not live ones: --auto-seed creates real media buys and creatives (the fuzzer says to
# point it at a sandbox tenant), and a live key's create_media_buy is `submitted` (no media_buy_id until
# the seller books it), so the seeder would get no id and the cross-tenant probe would not run.
# The sandbox is reset before each seed, so every seed sees the same state.
# FUZZ_OUT=<dir> keeps the reports and the server log there (default: a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=("$@")
if [ ${#seeds[@]} -eq 0 ]; then seeds=(1 2 3); fi

started=$SECONDS
phase() { echo "--- [$((SECONDS - started)) s] $*"; }
rand() { node -e "console.log(require('node:crypto').randomBytes(12).toString('hex'))"; }

work="$(mktemp -d)"
out="${FUZZ_OUT:-$work/out}"
mkdir -p "$out"
port="$(node -e "const s=require('node:net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
base="http://127.0.0.1:$port"
operator_a="sf_fuzz_operator_$(rand)"

export DATA_DIR="$work/data" PORT="$port" HOST=127.0.0.1 LOG_LEVEL=warn
# Per-key rate limits off: the fuzzer sends hundreds of calls a minute with one key by design.
export RATE_LIMIT_MAX=0
export STOREFRONT_SECRET_KEY="fuzz-secret-$(rand)"
export STOREFRONT_BOOTSTRAP_KEY="$operator_a" STOREFRONT_DEFAULT_NAME=fuzz-a
unset DATABASE_URL

phase "starting the server (PGlite) on $base"
node bin/storefront.js serve >"$out/server.log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  if [ -z "${FUZZ_OUT:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

source scripts/wait-for-server.sh
wait_for_server "$base" "$server_pid" "$out/server.log"

# The CLI talks to the running server (it owns the embedded database).
key_of() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).key))"; }
cli() { node bin/storefront.js "$@"; }

phase "making tenant B (storefront fuzz-b, created by its first key) and a sandbox buyer key on each storefront"
operator_b="$(cli keys create --storefront fuzz-b --label fuzz-operator --json | key_of)"
buyer_a="$(cli keys create --storefront fuzz-a --role buyer --sandbox --label fuzz-tenant-a --json | key_of)"
buyer_b="$(cli keys create --storefront fuzz-b --role buyer --sandbox --label fuzz-tenant-b --json | key_of)"

reset_sandboxes() {
  STOREFRONT_URL="$base" STOREFRONT_API_KEY="$operator_a" cli sandbox reset >>"$out/sandbox-reset.log"
  STOREFRONT_URL="$base" STOREFRONT_API_KEY="$operator_b" cli sandbox reset >>"$out/sandbox-reset.log"
}

status=0
for seed in "${seeds[@]}"; do
  report="$out/fuzz-seed-$seed.json"
  seed_started=$SECONDS
  reset_sandboxes
  # Its exit code is 1 on failures, but a crash before the report is also non-zero and a run that
  # probed nothing cross-tenant exits 0: the JSON report is what is read.
  npx --no-install adcp fuzz "$base/mcp" --auth-token "$buyer_a" --auth-token-cross-tenant "$buyer_b" \
    --auto-seed --seed "$seed" --max-failures 200 --format json >"$report" 2>"$out/fuzz-seed-$seed.stderr" || true
  if [ ! -s "$report" ]; then
    echo "seed $seed: no report written; the fuzzer's stderr:" >&2
    tail -n 40 "$out/fuzz-seed-$seed.stderr" >&2
    status=1
    continue
  fi
  node scripts/fuzz-summary.mjs "$report" "$((SECONDS - seed_started))" || status=1
done
phase "done: ${#seeds[@]} seed(s), exit $status"
exit "$status"
