#!/usr/bin/env bash
# Test peer: the PyPI package `pyspnego` in .peers/venv, the real NTLMv2 / Negotiate
# acceptor the Netwrix client's NTLM and Negotiate tests log in to (recipe:
# ../shared/spec/test-peers.md §4.1; the acceptor itself is
# netwrix/tests/fixtures/ntlm_server.py, started by the tests).
# Idempotent. Shares .peers/venv with other Python peers: creates the venv only when it
# is absent and installs only the packages listed here (one line per package).
set -euo pipefail
cd "$(dirname "$0")/../.."

. scripts/lib/venv.sh
pip_peer spnego 'pyspnego==0.12.4'
