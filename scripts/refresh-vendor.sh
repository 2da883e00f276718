#!/usr/bin/env bash
# Refresh the vendored front-end files in static/vendor/ from the npm registry.
# Versions are pinned here; bump them, run `make vendor`, and update the
# references in templates/base.html (the file names carry the version).
set -euo pipefail
HTMX=2.0.11
HTMX_WS=2.0.4
PICO=2.0.1

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/static/vendor"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

fetch() {  # fetch PACKAGE VERSION FILE-IN-PACKAGE TARGET-NAME
  local tgz
  tgz=$(npm pack --silent "$1@$2")
  mkdir -p "x-$4"
  tar -xzf "$tgz" -C "x-$4"
  cp "x-$4/package/$3" "$dest/$4"
  echo "vendored $1@$2 -> static/vendor/$4"
}

rm -f "$dest"/htmx-*.min.js "$dest"/htmx-ext-ws-*.js "$dest"/pico-*.css
fetch htmx.org "$HTMX" dist/htmx.min.js "htmx-$HTMX.min.js"
fetch htmx-ext-ws "$HTMX_WS" dist/ws.min.js "htmx-ext-ws-$HTMX_WS.min.js"
fetch @picocss/pico "$PICO" css/pico.amber.min.css "pico-$PICO.min.css"
