#!/usr/bin/env bash
# The zapwasm demo: build the example CRM integration to a WebAssembly
# component, start the example CRM API on 127.0.0.1, run a trigger, a
# search and a create through the host, then the flows that span calls
# (a polling trigger with dedupe, a REST hook subscribed and delivered, a
# callback resumed), with their state in a local state directory.
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
    "$zapwasm" invoke "$component" "$@" --env-file "$work/.env" --allow-loopback --quiet --cache-dir "$work/cache" \
        --state-dir "$work/state" --hook-base-url "http://127.0.0.1:9/hooks" --callback-base-url "http://127.0.0.1:9/callbacks"
}

"$zapwasm" describe "$component" --cache-dir "$work/cache"
run auth label
run trigger new_contact --limit 3
run search find_contact --input '{"email":"contact3@example.test"}'
run create create_contact --input '{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.test","company":"Analytical Engines"}'

# Polling with dedupe: the first poll only marks what it sees; the next
# prints only the contact created in between.
run trigger new_contact --dedupe
run create create_contact --input '{"first_name":"Grace","last_name":"Hopper","email":"grace@example.test"}' >/dev/null
run trigger new_contact --dedupe

# A REST hook: subscribe (the API registers the target URL), then deliver a
# payload by hand as the API would POST it, then unsubscribe.
subscription=$(run subscribe contact_created_hook | sed -n 's/^  "id": "\(.*\)",$/\1/p')
echo '{"event":"contact.created","contact":{"id":99,"email":"hook@example.test"}}' >"$work/delivery.json"
run deliver "$subscription" --body @"$work/delivery.json" --header "webhook-id: demo-1"
run unsubscribe "$subscription"

# A callback: the export waits for the API's POST; resume it by hand with
# what the API would send.
callback=$(run create export_contact --input '{"contact_id":2}' 2>&1 | sed -n 's/.*resume \([0-9a-f]*\)`.*/\1/p')
run resume "$callback" --body '{"export_id":1,"status":"done","contact_id":2,"lines":9}'

echo
echo "==> done: every call above ran in a fresh WebAssembly sandbox"
