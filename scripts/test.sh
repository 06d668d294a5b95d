#!/usr/bin/env bash
# The whole test suite: installs the test peers it needs, then runs every test.
# Usage: scripts/test.sh   (from anywhere; as root, or with sudo for the apt installs)
set -euo pipefail
cd "$(dirname "$0")/.."

# Each peer's install lives in its own script under scripts/peers/ (syslog-ng, the
# Kafka broker, Apache, the NTLM acceptor…); they install into the machine (apt-get)
# or into .peers/ (pip, extracted binaries). Recipes: ../shared/spec/test-peers.md.
for peer in scripts/peers/*.sh; do
    [ -e "$peer" ] || continue
    echo "== installing test peer: $peer"
    bash "$peer"
done

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast
