#!/usr/bin/env bash
# Test peer: Apache httpd 2.4 from Debian with mod_auth_digest and mod_auth_basic, the
# independent Digest (MD5) and Basic server the Netwrix client's auth tests log in to
# (recipe: ../shared/spec/test-peers.md §4.2). Idempotent: installs only when missing.
# Nothing is started here and nothing under /etc/apache2 is used: the tests start their
# own `apache2 -f` with a private config (ServerRoot, PidFile, Listen) on a free port.
set -euo pipefail
cd "$(dirname "$0")/../.."

if command -v apache2 >/dev/null 2>&1 && command -v htdigest >/dev/null 2>&1 \
    && [ -e /usr/lib/apache2/modules/mod_auth_digest.so ]; then
    echo "apache2: already installed ($(apache2 -v | head -n1))"
    exit 0
fi

. scripts/lib/apt.sh
peer_apt_install apache2 apache2-utils
apache2 -v | head -n1
