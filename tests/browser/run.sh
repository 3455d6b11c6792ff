#!/usr/bin/env bash
# The dashboard's browser test (dashboard.test.mjs): installs what is missing,
# then runs it. Exit 0 when every step passed, 1 otherwise.
#
#   CAIRN_BINARY          the cairn to test (required: the build's cmd/cairn/cairn_for_tests)
#   CAIRN_SCREENSHOT_DIR  where the screenshots go (default: a temp folder; scripts/screenshots
#                         gives docs/screenshots)
#   CAIRN_NPM_BROWSER_CACHE  where the pinned playwright-core is installed with `npm ci`
#                         (default $HOME/.cache/cairn-npm-browser: outside the clone, once)
#
# What it installs when missing: Debian's chromium (apt, as root; otherwise it
# says what to run), node and npm (the same), and playwright-core at the
# version package-lock.json pins (npm ci; it downloads no browser: the test
# drives Debian's /usr/bin/chromium).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CAIRN_NPM_BROWSER_CACHE:-${HOME:-/tmp}/.cache/cairn-npm-browser}"

say() { echo "browser test: $*" >&2; }

if [[ -z "${CAIRN_BINARY:-}" ]]; then
  say "CAIRN_BINARY is not set (the build's cmd/cairn/cairn_for_tests)"
  exit 1
fi

# Debian packages: chromium, node, npm.
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    say "installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "${missing[*]} missing: run  sudo apt-get install ${missing[*]}  (or scripts/test, which installs them)"
    exit 1
  fi
fi

# playwright-core, pinned by package-lock.json, installed once into the cache;
# again when the lock file changed.
lock_installed() { cmp -s "$here/package-lock.json" "$cache/package-lock.json" &&
  [[ -f "$cache/node_modules/playwright-core/package.json" ]]; }
if ! lock_installed; then
  mkdir -p "$cache"
  # One installer at a time (several test runs may start at once).
  exec 9>"$cache/.install.lock"
  flock 9
  if ! lock_installed; then
    say "installing playwright-core (pinned in tests/browser/package-lock.json) into $cache"
    cp "$here/package.json" "$here/package-lock.json" "$cache/"
    # npm ci installs exactly the lock file; playwright-core downloads no browser.
    if ! (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error >&2); then
      rm -f "$cache/package-lock.json" # try again next time
      say "npm ci failed in $cache"
      exit 1
    fi
  fi
  exec 9>&-
fi

export CAIRN_BROWSER_NODE_MODULES="$cache/node_modules"
export CAIRN_CHROMIUM="${CAIRN_CHROMIUM:-/usr/bin/chromium}"
# The test stops itself (cairn and Chromium included) after its own limit;
# `timeout` is the net below it, well within CTest's 600 s.
limit="${CAIRN_BROWSER_TIME_LIMIT:-420}"
export CAIRN_BROWSER_TIME_LIMIT="$limit"
rc=0
timeout --kill-after=15 $((limit + 30)) node --test-reporter=spec "$here/dashboard.test.mjs" || rc=$?
if ((rc != 0)); then
  say "failed (exit $rc)"
  exit 1
fi
