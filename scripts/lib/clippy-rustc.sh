#!/usr/bin/env bash
# cargo's RUSTC_WORKSPACE_WRAPPER in scripts/test.sh: the workspace's own crates are compiled
# by clippy-driver (rustc with clippy's lints; the same artifacts rustc makes) with warnings
# denied, so one build serves both the lint and the tests. Dependencies stay plain rustc
# builds (cargo applies this wrapper to workspace members only), shared with `cargo build`.
exec clippy-driver "$@" -D warnings
