# Sourced by the scripts that start a storefront server (conformance, conformance-upstream, fuzz).
# wait_for_server <base url> <server pid> <server log> [name]: returns once <base>/readyz answers 2xx;
# exits 1 with the server's log if the server exits first, or if it is not ready within 120 s.
wait_for_server() {
  local base="$1" pid="$2" log="$3" name="${4:-the}"
  for _ in $(seq 1 240); do
    if node -e "fetch(process.argv[1]).then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))" "$base/readyz"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "$name server exited; its log:" >&2; cat "$log" >&2; exit 1; fi
    sleep 0.5
  done
  echo "$name server at $base was not ready within 120 s; its log:" >&2
  cat "$log" >&2
  exit 1
}
