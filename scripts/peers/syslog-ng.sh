#!/usr/bin/env bash
# Test peer: syslog-ng 3.38 from Debian, the receiver of the syslog/CEF/LEEF sink tests
# (recipe: ../shared/spec/test-peers.md §2.1). Idempotent: installs only when missing.
# Nothing is started here and nothing under /etc is used: the tests start their own
# syslog-ng with a private --cfgfile/--persist-file/--pidfile/--control on free ports.
set -euo pipefail
cd "$(dirname "$0")/../.."

if command -v syslog-ng >/dev/null 2>&1 && command -v syslog-ng-ctl >/dev/null 2>&1 \
    && dpkg -s syslog-ng-scl >/dev/null 2>&1; then
    echo "syslog-ng: already installed ($(syslog-ng --version | head -n1))"
    exit 0
fi

. scripts/lib/apt.sh
peer_apt_install syslog-ng-core syslog-ng-scl
syslog-ng --version | head -n1
