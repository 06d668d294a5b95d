#!/usr/bin/env bash
# Test peer: an MIT Kerberos KDC (krb5-kdc, kadmin.local from krb5-admin-server, kinit from
# krb5-user), Apache's mod_auth_gssapi, and faketime (a KDC with its clock off, for the
# clock-skew test) — the real Kerberos the client's `auth = "kerberos"`/`"negotiate"` logs in
# to (recipe: ../shared/spec/test-peers.md §8). Idempotent: installs only what is missing.
# Nothing is started here and nothing under /etc is used: tests/it/kerberos.rs creates a realm in
# a temp dir (KRB5_CONFIG, KRB5_KDC_PROFILE) and starts its own krb5kdc and `apache2 -f` on
# free loopback ports, and stops them at its end. The install starts and enables no
# service (scripts/lib/apt.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

if command -v krb5kdc >/dev/null 2>&1 && command -v kadmin.local >/dev/null 2>&1 \
    && command -v kdb5_util >/dev/null 2>&1 && command -v faketime >/dev/null 2>&1 \
    && command -v apache2 >/dev/null 2>&1 \
    && [ -e /usr/lib/apache2/modules/mod_auth_gssapi.so ]; then
    echo "kerberos: already installed ($(krb5-config --version 2>/dev/null || echo MIT krb5))"
    exit 0
fi

. scripts/lib/apt.sh
peer_apt_install krb5-kdc krb5-admin-server krb5-user apache2 libapache2-mod-auth-gssapi faketime
command -v krb5kdc kadmin.local faketime
