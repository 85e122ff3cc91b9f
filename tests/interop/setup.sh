#!/usr/bin/env bash
# Installs node-llama-cpp (exact version and lockfile in this directory; its
# prebuilt llama.cpp CPU binaries for linux x64) into BUILD_DIR/npm-interop, once.
# Usage: bash tests/interop/setup.sh BUILD_DIR
# Exit status 0 when BUILD_DIR/npm-interop/node_modules/node-llama-cpp is installed afterwards.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-build}/npm-interop"
have() {
    cmp -s "$here/package.json" "$dest/package.json" && cmp -s "$here/package-lock.json" "$dest/package-lock.json" &&
        [ -f "$dest/node_modules/node-llama-cpp/package.json" ]
}
if have; then exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm not found" >&2
    exit 1
fi
mkdir -p "$dest"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --silent >/dev/null 2>"npm-install.log") || {
    echo "setup: npm ci failed (see $dest/npm-install.log)" >&2
    exit 1
}
have
