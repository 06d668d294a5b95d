#!/usr/bin/env bash
# Test peer: Microsoft's own Python client for the Logs Ingestion API,
# `azure-monitor-ingestion`, with `azure-identity` (which logs in through MSAL), in
# .peers/venv. tests/sentinel_python.rs drives them against `auditbridge
# sentinel-receiver` (the client script is tests/fixtures/sentinel_upload.py) to show the
# stand-in answers Microsoft's client as Azure does.
# Idempotent. Shares .peers/venv with other Python peers: creates the venv only when it
# is absent and installs only the packages listed here (one line per package).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.peers/venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
install_one() { # MODULE PIP-SPEC
    if "$VENV/bin/python" -c "import $1" >/dev/null 2>&1; then
        echo "$2: already installed"
    else
        "$VENV/bin/pip" install --quiet "$2"
        "$VENV/bin/python" -c "import $1" && echo "$2: installed"
    fi
}
install_one azure.identity 'azure-identity==1.27.0'
install_one azure.monitor.ingestion 'azure-monitor-ingestion==1.1.0'
