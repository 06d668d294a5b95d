#!/usr/bin/env bash
# Test peer: moto_server from the PyPI package `moto[server]` in .peers/venv, an
# S3-compatible server that implements Object Lock (retention, refusing to delete a
# locked version). tests/it/archive_s3.rs starts it on a free port; the archive sink's WORM
# uploads are checked against it (docs/archive.md).
# Idempotent. Shares .peers/venv with other Python peers: creates the venv only when it
# is absent and installs only the package listed here.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.peers/venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c "import moto, flask" >/dev/null 2>&1; then
    echo "moto[server]: already installed"
else
    "$VENV/bin/pip" install --quiet 'moto[server]==5.2.5'
    "$VENV/bin/python" -c "import moto; print('moto[server]', moto.__version__, 'installed')"
fi
