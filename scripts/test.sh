#!/usr/bin/env bash
# The whole test suite: installs the test peers it needs, then runs every test.
# Usage: scripts/test.sh   (from anywhere; root or sudo for the apt installs)
set -euo pipefail
cd "$(dirname "$0")/.."

# Peers: none are needed yet (the Netwrix emulator is built in). Later sinks add
# their installs here: syslog-ng, tansu, Apache, pyspnego (../shared/spec/test-peers.md §7).

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast
