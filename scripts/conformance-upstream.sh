#!/usr/bin/env bash
# AdCP conformance of a storefront whose sandbox is served by an upstream agent (sandbox supply,
# docs/sources.md): starts an UPSTREAM storefront server with its own sandbox and a sandbox buyer
# key, then a second, FRONT storefront server, registers the upstream on it through the REST API as
# an AGENT source with `sandbox: true` and the upstream's sandbox key as its credential, activates it
# (live probe), and runs the @adcp/sdk storyboard runner against the front with a sandbox buyer key
# of the front. Every product, buy, delivery row and comply_test_controller fixture of the run then
# lives on the upstream; the front only forwards and renames ids. Before each bundle both sandboxes
# are reset. Gated like scripts/conformance.sh, on each bundle's summary JSON (failed == 0, minus
# the failures scripts/conformance-tolerated.sh names), never on the runner's exit code.
#
#   scripts/conformance-upstream.sh media_buy_seller [more bundles...]
#
# Both servers run on PGlite (fresh data dirs): the forwarding under test is the same code on either
# engine, and scripts/conformance.sh already runs every bundle on PostgreSQL.
# CONFORMANCE_OUT=<dir> keeps the summaries, the runner logs and both server logs there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -eq 0 ]; then
  echo "usage: scripts/conformance-upstream.sh <bundle> [bundle...]" >&2
  exit 2
fi

# The failures every gate tolerates by name (TOLERATED; the run is over MCP).
source scripts/conformance-tolerated.sh
source scripts/wait-for-server.sh

started=$SECONDS
phase() { echo "--- [$((SECONDS - started)) s] $*"; }
random() { node -e "console.log(require('node:crypto').randomBytes(12).toString('hex'))"; }
free_port() { node -e "const s=require('node:net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

work="$(mktemp -d)"
out="${CONFORMANCE_OUT:-$work/out}"
mkdir -p "$out"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -z "${CONFORMANCE_OUT:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# One storefront server: sets <name>_port, <name>_base, <name>_operator, <name>_buyer (a sandbox
# buyer key), with its own data dir, secret key and operator key.
start_storefront() {
  local name=$1 port operator secret
  port="$(free_port)"
  operator="sf_${name}_operator_$(random)"
  secret="conformance-secret-$(random)"
  (
    export DATA_DIR="$work/$name-data" PORT="$port" HOST=127.0.0.1 LOG_LEVEL=warn
    # A forwarded task is up to four upstream calls, each a fresh MCP session to a server on the
    # same loaded machine: the production bound of 5 s is too tight there (a timeout failed steps).
    export UPSTREAM_AGENT_TIMEOUT_MS="${UPSTREAM_AGENT_TIMEOUT_MS:-30000}"
    export STOREFRONT_SECRET_KEY="$secret" STOREFRONT_BOOTSTRAP_KEY="$operator" STOREFRONT_DEFAULT_NAME=conformance
    exec node bin/storefront.js serve
  ) >"$out/$name-server.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local base="http://127.0.0.1:$port"
  wait_for_server "$base" "$pid" "$out/$name-server.log" "the $name"
  local buyer
  buyer="$(DATA_DIR="$work/$name-data" STOREFRONT_SECRET_KEY="$secret" node bin/storefront.js keys create --storefront conformance --role buyer --sandbox --label "$name-sandbox" --json \
    | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).key))")"
  printf -v "${name}_base" '%s' "$base"
  printf -v "${name}_operator" '%s' "$operator"
  printf -v "${name}_buyer" '%s' "$buyer"
}

# A REST call with an operator key; prints the body, fails unless the status is the expected one.
rest() {
  local base=$1 key=$2 method=$3 path=$4 body=$5 expect=$6
  node -e '
    const [base, key, method, path, body, expect] = process.argv.slice(1)
    fetch(base + "/api/v2/storefront" + path, { method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body })
      .then(async (r) => { const text = await r.text(); if (String(r.status) !== expect) { console.error(`${method} ${path}: HTTP ${r.status} ${text}`); process.exit(1) } console.log(text) })
      .catch((e) => { console.error(String(e)); process.exit(1) })
  ' "$base" "$key" "$method" "$path" "$body" "$expect"
}

phase "starting the upstream storefront (PGlite)"
start_storefront upstream
phase "starting the front storefront (PGlite)"
start_storefront front

phase "registering the upstream as the front's sandbox supply"
source_body="$(node -e 'console.log(JSON.stringify({ sourceId: "upstream-sandbox", name: "Upstream sandbox", type: "SALES", endpointUrl: process.argv[1], protocol: "MCP", authenticationType: "API_KEY", auth: { type: "bearer", token: process.argv[2] }, sandbox: true }))' "$upstream_base/mcp" "$upstream_buyer")"
rest "$front_base" "$front_operator" POST /inventory-sources "$source_body" 201 >"$out/source.json"
rest "$front_base" "$front_operator" PUT /inventory-sources/upstream-sandbox '{"status":"ACTIVE"}' 200 >>"$out/source.json"

reset_sandboxes() {
  STOREFRONT_URL="$upstream_base" STOREFRONT_API_KEY="$upstream_operator" node bin/storefront.js sandbox reset >>"$out/sandbox-reset.log"
  STOREFRONT_URL="$front_base" STOREFRONT_API_KEY="$front_operator" node bin/storefront.js sandbox reset >>"$out/sandbox-reset.log"
}

status=0
for bundle in "$@"; do
  summary="$out/$bundle.summary.json"
  bundle_started=$SECONDS
  reset_sandboxes
  npx --no-install adcp storyboard run "$front_base/mcp" "$bundle" --auth "$front_buyer" --allow-http --webhook-receiver \
    --summary-output "$summary" >"$out/$bundle.log" 2>&1 || true
  if [ ! -s "$summary" ]; then
    echo "$bundle: no summary written; the runner's output:" >&2
    tail -n 40 "$out/$bundle.log" >&2
    status=1
    continue
  fi
  node scripts/conformance-summary.mjs "$summary" "$bundle (via upstream sandbox supply)" "$((SECONDS - bundle_started))" "${TOLERATED[@]}" || status=1
done
phase "done: $# bundle(s), exit $status"
exit "$status"
