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
# One compile serves the lint and the tests: the workspace's crates are compiled by
# clippy-driver with warnings denied (scripts/lib/clippy-rustc.sh), so building them
# lints them as `cargo clippy --workspace --all-targets -- -D warnings` does. A separate
# `cargo clippy` would compile every dependency a second time (its check artifacts are
# not the build's). The benches are built (and so linted) but not run; `cargo test`
# builds and lints the library, binaries, tests and examples, then runs the tests.
command -v clippy-driver >/dev/null || { echo "clippy-driver not found: rustup component add clippy" >&2; exit 1; }
export RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/lib/clippy-rustc.sh"
cargo test --workspace --benches --no-run
# Most end-to-end tests wait on peers and child processes, so four run at a time on two
# cores; the CPU-heavy crash tests wait on progress with deadlines of minutes, not fixed
# times. Set RUST_TEST_THREADS to change it.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
cargo test --workspace --no-fail-fast
