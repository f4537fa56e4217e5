#!/usr/bin/env bash
# zapwasm as a service, on loopback: build the host, the example CRM API and
# the example CRM integration, start the API on 127.0.0.1:8787, then run
# `zapwasm serve` on 127.0.0.1:8080 in development mode (no control token)
# with the CRM served as `crm`, its state in .zapwasm/. Ctrl-C stops
# both. The README's "Run it as a service" has the curl lines to try.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
cargo build --quiet -p zapwasm-cli -p crm-api
cargo build --quiet -p crm --profile guest --target wasm32-wasip2

target/debug/crm-api --addr 127.0.0.1:8787 --api-key demo-key &
api_pid=$!
trap 'kill "$api_pid" 2>/dev/null || true' EXIT

target/debug/zapwasm serve --dev --allow-loopback --listen 127.0.0.1:8080 --state-dir .zapwasm \
    --app crm=target/wasm32-wasip2/guest/crm.wasm --app-env crm:CRM_BASE_URL=http://127.0.0.1:8787
