#!/bin/bash
# Rebuilds the console's JsSIP bundle from the npm registry (through npm, the versions pinned
# in package.json and package-lock.json) and writes its manifest with the new checksum.
# `make webphone` runs it; `make test` does not need it (the bundle is vendored).
set -euo pipefail
cd "$(dirname "$0")"
version=$(node -p 'require("./package.json").dependencies.jssip')
esbuild_version=$(node -p 'require("./package.json").devDependencies.esbuild')
static=../ivr/portal/static
name="jssip-${version}.min.js"
flags=(--bundle --format=iife --global-name=JsSIP --minify --target=es2020)
npm ci --no-audit --no-fund
node_modules/.bin/esbuild entry.js "${flags[@]}" --outfile="$static/$name"
sum=$(sha256sum "$static/$name" | cut -d' ' -f1)
cat > "$static/vendor.json" <<JSON
{
  "$name": {
    "package": "jssip",
    "version": "$version",
    "license": "MIT",
    "built_with": "esbuild $esbuild_version: webphone/entry.js ${flags[*]}",
    "sha256": "$sum"
  }
}
JSON
echo "built $static/$name ($sum); if the version changed, update console.html's script tag"
