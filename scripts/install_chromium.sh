#!/usr/bin/env bash
# Playwright drives the system Chromium; it never downloads a browser.
set -euo pipefail
path=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$path" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "Chromium is missing at $path: install it (apt-get install chromium) or set CHROMIUM_PATH." >&2
    exit 1
fi
echo "Installing Chromium (apt-get)…"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
test -x "$path"
