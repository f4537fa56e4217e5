#!/usr/bin/env bash
# The zapwasm demo: build the example CRM integration to a WebAssembly
# component, start the example CRM API on 127.0.0.1, and run a trigger, a
# search and a create through the host, printing each result.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "==> adding the wasm32-wasip2 target"
    rustup target add wasm32-wasip2
fi

echo "==> building the host, the example API and the example integration"
cargo build --quiet -p zapwasm-cli -p crm-api
cargo build --quiet -p crm --profile guest --target wasm32-wasip2
component=target/wasm32-wasip2/guest/crm.wasm
zapwasm=target/debug/zapwasm

work=$(mktemp -d)
api_pid=
cleanup() {
    [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

target/debug/crm-api --addr 127.0.0.1:0 --api-key demo-key >"$work/api.out" &
api_pid=$!
for _ in $(seq 1 100); do
    grep -q '^listening on ' "$work/api.out" 2>/dev/null && break
    sleep 0.05
done
base=$(sed -n 's/^listening on //p' "$work/api.out")
[ -n "$base" ] || { echo "the example API did not start"; exit 1; }
echo "==> example CRM API on $base"

cat >"$work/.env" <<ENV
authData_api_key=demo-key
CRM_BASE_URL=$base
ENV

run() {
    echo
    echo "==> zapwasm invoke crm.wasm $*"
    "$zapwasm" invoke "$component" "$@" --env-file "$work/.env" --allow-loopback --quiet --cache-dir "$work/cache"
}

"$zapwasm" describe "$component" --cache-dir "$work/cache"
run auth label
run trigger new_contact --limit 3
run search find_contact --input '{"email":"contact3@example.test"}'
run create create_contact --input '{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.test","company":"Analytical Engines"}'
echo
echo "==> done: every call above ran in a fresh WebAssembly sandbox"
