#!/usr/bin/env bash
# Test peer: the PyPI package `pyspnego` in .peers/venv, the real NTLMv2 / Negotiate
# acceptor the Netwrix client's NTLM and Negotiate tests log in to (recipe:
# ../shared/spec/test-peers.md §4.1; the acceptor itself is
# netwrix/tests/fixtures/ntlm_server.py, started by the tests).
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
install_one spnego 'pyspnego==0.12.4'
