#!/usr/bin/env bash
# The conformance cases in a real browser: builds the wasm entry point (web/, release),
# generates its JavaScript bindings with wasm-bindgen, serves the repository on 127.0.0.1,
# opens web/index.html in headless Chromium with WebGPU enabled and prints the page's
# per-case lines and the closing `N passed, M failed`. Exit status 0 only if all passed.
#
#   web/check.sh [--screenshot FILE.png] [CASES.json]   run (default: tests/data/cases.json)
#   web/check.sh --serve [CASES.json]                   build and serve the page for a person
#
# Needs: the wasm32-unknown-unknown target, wasm-bindgen-cli at the version of wasm-bindgen
# in Cargo.lock, chromium and chromium-driver (Debian), python3. `.ci/run` installs them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2; }
screenshot="" serve=0 cases=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --screenshot) [[ $# -ge 2 ]] || usage; screenshot="$2"; shift 2 ;;
    --serve) serve=1; shift ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [[ -z "$cases" ]] || usage; cases="$1"; shift ;;
  esac
done
cases="${cases:-tests/data/cases.json}"
[[ -f "$cases" ]] || { echo "error: no cases file $cases" >&2; exit 2; }

# wasm-bindgen's CLI and the crate must agree exactly, or the bindings do not load.
want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)"
have="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }')" || true
if [[ "$have" != "$want" ]]; then
  echo "error: wasm-bindgen-cli ${have:-missing}, Cargo.lock has wasm-bindgen $want:" \
    "cargo install wasm-bindgen-cli --version =$want" >&2
  exit 2
fi

cargo build --release --target wasm32-unknown-unknown -p wgact-web
wasm-bindgen --target web --no-typescript --out-dir web/pkg \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/wgact_web.wasm"

# The page fetches its cases over HTTP: stage the file under the served tree.
mkdir -p target/web-check
cp "$cases" target/web-check/cases.json
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server --bind 127.0.0.1 --directory "$root" "$port" \
  >target/web-check/server.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
label="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$cases")"
url="http://127.0.0.1:$port/web/index.html?cases=/target/web-check/cases.json&label=$label"
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('$url', timeout=1)" 2>/dev/null && break
  sleep 0.1
done

if [[ "$serve" == 1 ]]; then
  echo "serving $url (a browser with WebGPU; Chromium: --enable-unsafe-webgpu). Ctrl-C stops."
  wait "$server"
  exit 0
fi

echo "# cases from $cases"
python3 web/drive.py ${screenshot:+--screenshot "$screenshot"} "$url"
