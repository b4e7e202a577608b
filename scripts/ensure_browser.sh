#!/usr/bin/env bash
# Make sure a headless Chromium for the browser test is on this machine (idempotent).
# Playwright's own browser download is not used: the test drives Debian's /usr/bin/chromium.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure_browser: installing chromium with apt-get (one time)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver >/dev/null
    if [ -x "$CHROMIUM" ]; then
        exit 0
    fi
    echo "ensure_browser: apt-get finished but $CHROMIUM is still missing" >&2
    exit 1
fi

cat >&2 <<MSG
ensure_browser: $CHROMIUM not found, and this script can only install it as root with apt-get.
Install it yourself, e.g.:  sudo apt-get update && sudo apt-get install -y chromium chromium-driver
The browser test (tests/app/test_browser.py) is skipped outside CI without it, and fails in CI.
MSG
if [ -n "${CI:-}" ]; then
    exit 1
fi
exit 0
