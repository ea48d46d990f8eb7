#!/usr/bin/env bash
# AdCP conformance of the agent at /mcp (or /a2a, CONFORMANCE_PROTOCOL below): starts ONE live server (npm start's command) on a free
# loopback port with a fresh data dir, creates a sandbox buyer key (which buys the storefront's
# sandbox source, never live sources), then for each bundle given resets the sandbox with the
# operator key (storefront sandbox reset) and runs the @adcp/sdk storyboard runner against that
# server. Exits non-zero unless every bundle's summary JSON says failed == 0, not counting the
# tolerated failures listed below: the runner's own exit code is 0 on a partial run, so it is
# never trusted.
#
#   scripts/conformance.sh capability_discovery [more bundles...]
#   scripts/conformance.sh assessment      the capability-driven full assessment, gated by the README's ratchet
#
# DATABASE_URL set: the server uses that PostgreSQL database instead of PGlite (give it a fresh one);
# a fresh webhook signing key is made for it unless STOREFRONT_WEBHOOK_SIGNING_KEY is set.
# CONFORMANCE_PROTOCOL=a2a runs the bundles over A2A (`--protocol a2a` against <base>/a2a, the agent card at
# /.well-known/agent-card.json) instead of MCP at <base>/mcp; the summaries are named <bundle>.a2a.summary.json.
# CONFORMANCE_OUT=<dir> keeps the summaries, the runner logs and the server log there (default: a temp dir).
# Prints each bundle's passed/failed/skipped, every failure, and the time each phase took.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -eq 0 ]; then
  echo "usage: scripts/conformance.sh <bundle> [bundle...]" >&2
  exit 2
fi

# The failures tolerated by name (TOLERATED, and TOLERATED_A2A over A2A): one list for every gate.
source scripts/conformance-tolerated.sh

started=$SECONDS
phase() { echo "--- [$((SECONDS - started)) s] $*"; }

work="$(mktemp -d)"
out="${CONFORMANCE_OUT:-$work/out}"
mkdir -p "$out"
port="$(node -e "const s=require('node:net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
base="http://127.0.0.1:$port"
operator_key="sf_conformance_operator_$(node -e "console.log(require('node:crypto').randomBytes(12).toString('hex'))")"

export DATA_DIR="$work/data" PORT="$port" HOST=127.0.0.1 LOG_LEVEL=warn
export STOREFRONT_SECRET_KEY="conformance-secret-$(node -e "console.log(require('node:crypto').randomBytes(12).toString('hex'))")"
export STOREFRONT_BOOTSTRAP_KEY="$operator_key" STOREFRONT_DEFAULT_NAME=conformance
if [ -n "${DATABASE_URL:-}" ] && [ -z "${STOREFRONT_WEBHOOK_SIGNING_KEY:-}" ]; then
  # Every process of a PostgreSQL install signs with the one key it is given (on PGlite the server
  # generates its own into DATA_DIR); without one the agent would refuse push_notification_config.
  STOREFRONT_WEBHOOK_SIGNING_KEY="$(node --import tsx --input-type=module -e \
    "const m = await import('./src/modules/buyer-webhooks/signing-key.ts'); console.log(m.newWebhookSigningKeyJson())")"
  export STOREFRONT_WEBHOOK_SIGNING_KEY
fi

phase "starting the server ($([ -n "${DATABASE_URL:-}" ] && echo PostgreSQL || echo PGlite)) on $base"
node bin/storefront.js serve >"$out/server.log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  if [ -z "${CONFORMANCE_OUT:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

source scripts/wait-for-server.sh
wait_for_server "$base" "$server_pid" "$out/server.log"

phase "creating a sandbox buyer key"
buyer_key="$(node bin/storefront.js keys create --storefront conformance --role buyer --sandbox --label conformance --json \
  | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).key))")"

# Fresh sandbox state before each bundle: storyboards reuse fixed idempotency keys and fixture ids
# across bundles, so a bundle must not see what the previous one bought or seeded.
reset_sandbox() {
  STOREFRONT_URL="$base" STOREFRONT_API_KEY="$operator_key" node bin/storefront.js sandbox reset >>"$out/sandbox-reset.log"
}

protocol="${CONFORMANCE_PROTOCOL:-mcp}"
case "$protocol" in
  mcp) agent_url="$base/mcp"; suffix="" ;;
  a2a) agent_url="$base/a2a"; suffix=".a2a"; TOLERATED+=("${TOLERATED_A2A[@]}") ;;
  *) echo "CONFORMANCE_PROTOCOL must be mcp or a2a, not '$protocol'" >&2; exit 2 ;;
esac

status=0
for bundle in "$@"; do
  summary="$out/$bundle$suffix.summary.json"
  bundle_started=$SECONDS
  reset_sandbox
  # Its exit code says nothing about failures (see above); the summary is read instead.
  # The pseudo-bundle `assessment` is the runner's capability-driven full assessment (no storyboard id,
  # ~35 storyboards in one run: its default 120 s budget is too short on a busy 2-CPU machine).
  target=("$bundle"); [ "$bundle" = assessment ] && target=(--timeout 900)
  npx --no-install adcp storyboard run "$agent_url" "${target[@]}" --protocol "$protocol" --auth "$buyer_key" --allow-http --webhook-receiver \
    --summary-output "$summary" >"$out/$bundle$suffix.log" 2>&1 || true
  if [ ! -s "$summary" ]; then
    echo "$bundle: no summary written; the runner's output:" >&2
    tail -n 40 "$out/$bundle$suffix.log" >&2
    status=1
    continue
  fi
  if [ "$bundle" = assessment ]; then
    # Gated by the ratchet README.md records (scripts/assessment-ratchet.mjs), not failed == 0.
    node scripts/assessment-ratchet.mjs "$summary" README.md "$((SECONDS - bundle_started))" || status=1
    continue
  fi
  node scripts/conformance-summary.mjs "$summary" "$bundle$([ "$protocol" = mcp ] || echo " ($protocol)")" "$((SECONDS - bundle_started))" "${TOLERATED[@]}" || status=1
done
phase "done: $# bundle(s), exit $status"
exit "$status"
