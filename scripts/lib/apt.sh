# Sourced by scripts/peers/*.sh: installs Debian packages for a test peer without
# changing what the host runs. It refuses, naming them, when apt would remove a package
# (syslog-ng-core replaces a running rsyslog, for one), keeps apt from starting services
# while it installs (a policy-rc.d that says no), and disables the services the new
# packages ship, so the host boots as before. The tests start their own peers with
# private configs on free loopback ports.

# peer_apt_install PACKAGE...
peer_apt_install() {
    local sudo="" removals policy=/usr/sbin/policy-rc.d created="" rc=0 pkg unit
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    removals=$($sudo apt-get install -s -y --no-install-recommends "$@" | awk '/^Remv /{print $2}' | tr '\n' ' ')
    if [ -n "$removals" ]; then
        echo "refusing to install $*: apt would remove ${removals}from this host." >&2
        echo "Install it by hand where that is acceptable (apt-get install $*), then run the tests again." >&2
        return 1
    fi
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# Written by auditbridge scripts/lib/apt.sh while it installs test peers.\nexit 101\n' \
            | $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
        created=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@" || rc=$?
    if [ -n "$created" ]; then $sudo rm -f "$policy"; fi
    if [ "$rc" -ne 0 ]; then return "$rc"; fi
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        for pkg in "$@"; do
            for unit in $(dpkg -L "$pkg" 2>/dev/null | grep -E '/systemd/system/[^/]+\.service$' | xargs -r -n1 basename); do
                $sudo systemctl disable --now "$unit" >/dev/null 2>&1 || true
            done
        done
    fi
}
