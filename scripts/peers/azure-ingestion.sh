#!/usr/bin/env bash
# Test peer: Microsoft's own Python client for the Logs Ingestion API,
# `azure-monitor-ingestion`, with `azure-identity` (which logs in through MSAL), in
# .peers/venv. tests/it/sentinel_python.rs drives them against `auditbridge
# sentinel-receiver` (the client script is tests/fixtures/sentinel_upload.py) to show the
# stand-in answers Microsoft's client as Azure does.
# Idempotent. Shares .peers/venv with other Python peers: creates the venv only when it
# is absent and installs only the packages listed here (one line per package).
set -euo pipefail
cd "$(dirname "$0")/../.."

. scripts/lib/venv.sh
pip_peer azure.identity 'azure-identity==1.27.0'
pip_peer azure.monitor.ingestion 'azure-monitor-ingestion==1.1.0'
