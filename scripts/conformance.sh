#!/usr/bin/env bash
# AdCP conformance of the agent at /mcp: starts a live server (npm start's command) on a free
# loopback port with a fresh data dir, creates a sandbox buyer key (which buys the storefront's
# sandbox source, never live sources), then for each bundle given resets the sandbox with the
# operator key (storefront sandbox reset) and runs the @adcp/sdk storyboard runner.
# Exits non-zero unless every bundle's summary JSON says failed == 0: the runner's own exit code
# is 0 on a partial run, so it is never trusted.
#
#   scripts/conformance.sh capability_discovery [more bundles...]
#
# DATABASE_URL set: the server uses that PostgreSQL database instead of PGlite (give it a fresh one).
# CONFORMANCE_OUT=<dir> keeps the summaries and the server log there (default: a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -eq 0 ]; then
  echo "usage: scripts/conformance.sh <bundle> [bundle...]" >&2
  exit 2
fi

work="$(mktemp -d)"
out="${CONFORMANCE_OUT:-$work/out}"
mkdir -p "$out"
port="$(node -e "const s=require('node:net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
base="http://127.0.0.1:$port"
operator_key="sf_conformance_operator_$(node -e "console.log(require('node:crypto').randomBytes(12).toString('hex'))")"

export DATA_DIR="$work/data" PORT="$port" HOST=127.0.0.1 LOG_LEVEL=warn
export STOREFRONT_SECRET_KEY="conformance-secret-$(node -e "console.log(require('node:crypto').randomBytes(12).toString('hex'))")"
export STOREFRONT_BOOTSTRAP_KEY="$operator_key" STOREFRONT_DEFAULT_NAME=conformance

node_modules/.bin/tsx src/cli/main.ts serve >"$out/server.log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  if [ -z "${CONFORMANCE_OUT:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

ready() { node -e "fetch(process.argv[1]).then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))" "$base/readyz"; }
for _ in $(seq 1 240); do
  if ready; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then echo "the server exited; its log:" >&2; cat "$out/server.log" >&2; exit 1; fi
  sleep 0.5
done
ready

buyer_key="$(node_modules/.bin/tsx src/cli/main.ts keys create --storefront conformance --role buyer --sandbox --label conformance --json \
  | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).key))")"

status=0
for bundle in "$@"; do
  summary="$out/$bundle.summary.json"
  # Each bundle starts on a fresh sandbox: storyboards use fixed idempotency keys and seed
  # fixtures that would otherwise collide with the previous bundle's.
  STOREFRONT_URL="$base" STOREFRONT_API_KEY="$operator_key" node_modules/.bin/tsx src/cli/main.ts sandbox reset >>"$out/sandbox-reset.log"
  echo "--- adcp storyboard run $bundle"
  # Its exit code says nothing about failures (see above); the summary is read instead.
  npx --no-install adcp storyboard run "$base/mcp" "$bundle" --auth "$buyer_key" --allow-http --webhook-receiver \
    --summary-output "$summary" >"$out/$bundle.log" 2>&1 || true
  if [ ! -s "$summary" ]; then
    echo "$bundle: no summary written; the runner's output:" >&2
    tail -n 40 "$out/$bundle.log" >&2
    status=1
    continue
  fi
  node -e '
    const s = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))
    console.log(`${process.argv[2]}: ${s.overall_status ?? ""} passed=${s.passed} failed=${s.failed} skipped=${s.skipped}`)
    for (const f of s.failures ?? []) console.log(`  FAIL ${f.storyboard_id}/${f.step_id}: ${String(f.reason ?? "").slice(0, 300)}`)
    process.exit(s.failed === 0 ? 0 : 1)
  ' "$summary" "$bundle" || status=1
done
exit "$status"
