#!/usr/bin/env bash
# Installs the pinned Azurite (and the Azure JS SDK, for interop tests) with
# npm into a cache folder outside the clone, only when missing, and prints the
# path of the azurite-blob executable on stdout (progress goes to stderr).
#
#   CAIRN_NPM_CACHE   where node_modules live (default $HOME/.cache/cairn-npm)
#
# Node 20 runs azurite <= 3.35.0 and @azure/storage-blob <= 12.32.0; newer
# ones need Node 22. Exit status 2 when node or npm is missing.
set -euo pipefail

AZURITE_VERSION=3.35.0
SDK_VERSION=12.32.0
cache="${CAIRN_NPM_CACHE:-${HOME:-/tmp}/.cache/cairn-npm}"
bin="$cache/node_modules/.bin/azurite-blob"

installed_version() {  # NAME -> version in the cache, or nothing
  local pkg="$cache/node_modules/$1/package.json"
  [[ -f "$pkg" ]] && node -e 'process.stdout.write(require(process.argv[1]).version)' "$pkg" \
    2>/dev/null || true
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "ensure_azurite: node and npm are needed for the Azure tests (Debian: apt-get install nodejs npm)" >&2
  exit 2
fi

if [[ -x "$bin" && "$(installed_version azurite)" == "$AZURITE_VERSION" &&
      "$(installed_version @azure/storage-blob)" == "$SDK_VERSION" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
# One installer at a time (CTest may start several fixtures at once).
exec 9>"$cache/.install.lock"
flock 9
if [[ ! -x "$bin" || "$(installed_version azurite)" != "$AZURITE_VERSION" ||
      "$(installed_version @azure/storage-blob)" != "$SDK_VERSION" ]]; then
  echo "ensure_azurite: installing azurite@$AZURITE_VERSION and @azure/storage-blob@$SDK_VERSION into $cache (~200 MB, once)" >&2
  [[ -f "$cache/package.json" ]] || echo '{"name":"cairn-test-tools","private":true}' >"$cache/package.json"
  npm install --prefix "$cache" --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" "@azure/storage-blob@$SDK_VERSION" >&2
fi
if [[ ! -x "$bin" ]]; then
  echo "ensure_azurite: npm finished but $bin is missing" >&2
  exit 1
fi
echo "$bin"
