#!/usr/bin/env bash
# Test peer: the PyPI package `cefevent`, an independent CEF encoder the CEF property
# test compares our extension escaping with (../shared/spec/formats.md §7).
# Idempotent. Shares .peers/venv with other Python peers: creates the venv only when it
# is absent and installs only this package into it.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.peers/venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if "$VENV/bin/python" -c 'import cefevent' >/dev/null 2>&1; then
    echo "cefevent: already installed"
    exit 0
fi
"$VENV/bin/pip" install --quiet 'cefevent==0.5.6'
"$VENV/bin/python" -c 'import cefevent; print("cefevent: installed")'
