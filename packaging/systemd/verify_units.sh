#!/bin/sh
# Checks the systemd units with `systemd-analyze verify` (works without
# systemd running as PID 1) and their exposure with `systemd-analyze security
# --offline`. Any warning about a unit of ours fails the test: verify itself
# only warns (exit 0) about an unknown key or a bad value.
#
# usage: verify_units.sh SYSTEMD_ANALYZE UNIT_SOURCE_DIR CAIRN_BINARY_DIR
set -eu
analyze=$1 src=$2 bindir=$3

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/system" "$tmp/user/cairn.service.d" "$tmp/runtime"
chmod 700 "$tmp/runtime"
sed "s|@CAIRN_BINDIR@|$bindir|g" "$src/cairn-system.service.in" >"$tmp/system/cairn-system.service"
sed "s|@CAIRN_BINDIR@|$bindir|g" "$src/cairn.service.in" >"$tmp/user/cairn.service"
cp "$src/cairn-user-sandbox.conf" "$tmp/user/cairn.service.d/sandbox.conf"
if grep -n "@[A-Z_]*@" "$tmp/system/cairn-system.service" "$tmp/user/cairn.service"; then
  echo "FAIL: a placeholder was left unreplaced" >&2
  exit 1
fi

failed=0
# Runs "$@"; fails on a non-zero exit or any output line naming our files.
check() {
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out"
    echo "FAIL: $* exited non-zero" >&2
    failed=1
    return
  fi
  if printf '%s\n' "$out" | grep -q -e cairn -e "$tmp"; then
    printf '%s\n' "$out"
    echo "FAIL: $* warned about our units" >&2
    failed=1
    return
  fi
  [ -z "$out" ] || printf '(not ours) %s\n' "$out"
}

echo "== verify cairn-system.service"
check "$analyze" verify --man=no "$tmp/system/cairn-system.service"
# The user manager's paths need a runtime directory, which this process may
# not have (no login session).
echo "== verify --user cairn.service (with the sandbox drop-in)"
XDG_RUNTIME_DIR="$tmp/runtime" check "$analyze" --user verify --man=no "$tmp/user/cairn.service"

# The hardening, scored by systemd (0 = fully locked down, 10 = exposed).
# The system unit must stay well protected: below 3.0 ("OK").
echo "== security --offline cairn-system.service"
if out=$("$analyze" security --offline=yes --no-pager "$tmp/system/cairn-system.service" 2>&1); then
  score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "exposure: ${score:-unknown}"
  if [ -z "$score" ] || ! awk -v s="$score" 'BEGIN { exit !(s < 3.0) }'; then
    printf '%s\n' "$out"
    echo "FAIL: cairn-system.service exposure ${score:-unknown} is not below 3.0" >&2
    failed=1
  fi
else
  printf '%s\n' "$out"
  echo "FAIL: systemd-analyze security --offline failed" >&2
  failed=1
fi

# The user unit, for information: a user manager cannot apply most of it
# without user namespaces, so there is no threshold.
user_out=$(XDG_RUNTIME_DIR="$tmp/runtime" "$analyze" --user security --offline=yes --no-pager \
  "$tmp/user/cairn.service" 2>&1 || true)
echo "cairn.service (user, with the sandbox drop-in):" \
  "$(printf '%s\n' "$user_out" | sed -n 's/.*Overall exposure level for [^:]*: //p')"

[ "$failed" -eq 0 ] && echo "units OK"
exit "$failed"
