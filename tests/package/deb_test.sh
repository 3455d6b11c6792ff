#!/usr/bin/env bash
# The Debian package on this machine, with the real dpkg: builds two
# packages (the version, and a newer one: CAIRN_VERSION_SUFFIX=+1) with
# scripts/package deb, installs the first, runs the installed cairn
# (--version, man page, completions, init, backup, restore byte for byte),
# upgrades to the second while a `cairn run` of the installed binary runs
# (settings, secret and repository untouched; the running service carries
# on, then restarts on the new version), then removes and purges it, leaving
# none of its files behind and every file of the user's.
#
# usage: deb_test.sh SOURCE_DIR BUILD_TYPE BUILD_DIR
# BUILD_DIR is the packages' build folder: beside the test run's own build
# folder (at the same depth below the sources), so that ccache finds the
# objects already compiled there and only the version's file is compiled.
# Skipped (exit 77) when not root, without dpkg, or when a cairn package is
# installed already (it would be replaced).
set -euo pipefail
src=$1 build_type=$2 work=$3

skip() {
  echo "SKIPPED: $*"
  exit 77
}
[[ $(id -u) -eq 0 ]] || skip "installing a package needs root"
for tool in dpkg dpkg-deb; do
  command -v $tool >/dev/null || skip "$tool is missing: this test needs a Debian system"
done
# One package test at a time on this machine (dpkg has one database).
exec 9>/tmp/cairn-deb-test.lock
flock 9
if dpkg-query -W -f='${Status}' cairn 2>/dev/null | grep -q "ok installed"; then
  skip "a cairn package is installed already (dpkg --purge cairn to run this test)"
fi

failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=1
}
step() { echo "== $*"; }

tmp=$(mktemp -d)
daemon=""
cleanup() {
  [[ -n "$daemon" ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  if dpkg-query -W -f='${Status}' cairn 2>/dev/null | grep -q "installed"; then
    dpkg --purge cairn >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

step "building the packages ($build_type, in $work)"
build() {
  CAIRN_PACKAGE_BUILD_DIR="$work" CAIRN_PACKAGE_BUILD_TYPE="$build_type" \
    CAIRN_DIST="$work/dist" CAIRN_VERSION_SUFFIX="$1" "$src/scripts/package" deb
}
rm -rf "$work/dist"
deb1=$(build "")
deb2=$(build "+1")
v1=$(dpkg-deb -f "$deb1" Version)
v2=$(dpkg-deb -f "$deb2" Version)
echo "$deb1 ($v1, $(du -k "$deb1" | cut -f1) KiB), $deb2 ($v2)"
[[ "$(basename "$deb1")" == "cairn_${v1}_$(dpkg --print-architecture).deb" ]] ||
  fail "package name $(basename "$deb1")"
dpkg --compare-versions "$v2" gt "$v1" || fail "$v2 is not newer than $v1"
depends=$(dpkg-deb -f "$deb1" Depends)
echo "Depends: $depends"
for lib in libsodium23 libssl3 libzstd1 zlib1g libsqlite3-0 libyaml-cpp0.7 libcurl4 libarchive13 \
  libsystemd0 libc6; do
  [[ "$depends" == *"$lib "* || "$depends" == *"$lib,"* || "$depends" == *"$lib" ]] ||
    fail "Depends lacks $lib: $depends"
done

step "dpkg -i $v1"
dpkg -i "$deb1" >"$tmp/install1.log" 2>&1 || {
  cat "$tmp/install1.log"
  fail "dpkg -i"
  exit 1
}
dpkg -L cairn | sort >"$tmp/files"
[[ "$(/usr/bin/cairn --version | head -1)" == "cairn $v1" ]] || fail "cairn --version: $(/usr/bin/cairn --version | head -1)"
/usr/bin/cairn --version | grep -q '^repository format [0-9]' || fail "--version: no format"
/usr/bin/cairn --version | grep -q '^libsodium ' || fail "--version: no libraries"
for f in /usr/share/man/man1/cairn.1.gz /usr/share/bash-completion/completions/cairn \
  /usr/share/zsh/vendor-completions/_cairn /usr/share/fish/vendor_completions.d/cairn.fish \
  /usr/lib/systemd/user/cairn.service /usr/lib/systemd/system/cairn-system.service \
  /usr/share/doc/cairn/examples/settings.yaml /usr/share/doc/cairn/copyright; do
  grep -qx "$f" "$tmp/files" || fail "the package lacks $f"
done
grep -q '^ExecStart=/usr/bin/cairn run ' /usr/lib/systemd/user/cairn.service ||
  fail "the user unit does not start /usr/bin/cairn"
if command -v man >/dev/null; then
  [[ "$(man -w cairn)" == /usr/share/man/man1/cairn.1.gz ]] || fail "man -w cairn: $(man -w cairn)"
  man cairn 2>/dev/null | grep -q "cairn restore" || fail "man cairn does not render"
fi

step "init, backup, restore with /usr/bin/cairn"
export HOME=$tmp/home
unset XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_STATE_HOME XDG_RUNTIME_DIR \
  CAIRN_REPOSITORY CAIRN_PASSWORD BACKUP_ENCRYPTION_KEY
mkdir -p "$HOME/Documents/sub" "$HOME/.config/cairn"
head -c 3000000 /dev/urandom >"$HOME/Documents/photo.raw"
echo "thesis, chapter one" >"$HOME/Documents/sub/thesis.txt"
# The dashboard off: other tests may hold port 5000.
printf 'web:\n  enabled: false\nbackup:\n  stability_seconds: 1\n' >"$HOME/.config/cairn/settings.yaml"
cd "$HOME"
cairn=/usr/bin/cairn
$cairn init </dev/null >"$tmp/init.log" 2>&1 || {
  cat "$tmp/init.log"
  fail "cairn init"
}
$cairn backup "$HOME/Documents" </dev/null >"$tmp/backup.log" 2>&1 || {
  cat "$tmp/backup.log"
  fail "cairn backup"
}
$cairn restore "$HOME/Documents" --to "$tmp/r1" </dev/null >"$tmp/restore.log" 2>&1 || {
  cat "$tmp/restore.log"
  fail "cairn restore"
}
diff -r "$HOME/Documents" "$tmp/r1$HOME/Documents" || fail "the restore differs"

# What the package must never touch.
repo=$HOME/.local/share/cairn/repo
user_state() {
  sha256sum "$HOME/.config/cairn/settings.yaml" "$HOME/.config/cairn/password"
  (cd "$repo" && find config keys data -type f | sort | xargs sha256sum)
}
user_state >"$tmp/state1"
[[ -s "$HOME/.config/cairn/password" ]] || fail "no secret was generated"

step "upgrade to $v2 while cairn run runs"
$cairn run "$HOME/Documents" </dev/null >"$tmp/run1.log" 2>&1 &
daemon=$!
for _ in $(seq 1 100); do
  $cairn status --json >"$tmp/status.json" 2>/dev/null && break
  sleep 0.2
done
grep -q "\"version\":\"$v1\"" "$tmp/status.json" || fail "cairn run $v1 not running: $(cat "$tmp/status.json")"
dpkg -i "$deb2" >"$tmp/install2.log" 2>&1 || {
  cat "$tmp/install2.log"
  fail "dpkg -i $deb2"
}
cat "$tmp/install2.log"
[[ "$($cairn --version | head -1)" == "cairn $v2" ]] || fail "after the upgrade: $($cairn --version | head -1)"
grep -q "cairn: still running version $v1 (pid $daemon)" "$tmp/install2.log" ||
  fail "the upgrade did not name the running cairn"
kill -0 "$daemon" 2>/dev/null || fail "cairn run stopped during the upgrade"
# It carries on: a change after the upgrade is backed up by the old process.
echo "written after the upgrade" >"$HOME/Documents/after.txt"
ok=0
for _ in $(seq 1 60); do
  if $cairn versions "$HOME/Documents/after.txt" </dev/null 2>/dev/null | grep -q "^ *1 "; then
    ok=1
    break
  fi
  sleep 0.5
done
[[ $ok -eq 1 ]] || fail "cairn run did not back up a change after the upgrade: $(cat "$tmp/run1.log")"
$cairn status --json 2>/dev/null | grep -q "\"version\":\"$v1\"" || fail "the running daemon changed"
# Restarted (as the postinst does for a systemd service): the new version.
kill -TERM "$daemon"
wait "$daemon" || fail "cairn run $v1 exit code $?"
daemon=""
$cairn run "$HOME/Documents" </dev/null >"$tmp/run2.log" 2>&1 &
daemon=$!
status=""
for _ in $(seq 1 100); do
  status=$($cairn status --json 2>/dev/null) && break
  sleep 0.2
done
[[ "$status" == *"\"version\":\"$v2\""* ]] || fail "cairn run $v2 after the restart: $status"
kill -TERM "$daemon"
wait "$daemon" || fail "cairn run $v2 exit code $?"
daemon=""
# Every file of the user's as it was (the repository only grew).
user_state >"$tmp/state2"
grep -Ff "$tmp/state1" "$tmp/state2" | diff - "$tmp/state1" >/dev/null ||
  fail "the upgrade changed the settings, the secret or the repository: $(diff "$tmp/state1" "$tmp/state2")"
$cairn restore "$HOME/Documents" --to "$tmp/r2" </dev/null >/dev/null 2>&1 || fail "restore after the upgrade"
diff -r "$HOME/Documents" "$tmp/r2$HOME/Documents" || fail "the restore after the upgrade differs"

step "dpkg -r, dpkg --purge"
dpkg -L cairn | sort >"$tmp/files2"
dpkg -r cairn >/dev/null || fail "dpkg -r"
[[ ! -e /usr/bin/cairn ]] || fail "/usr/bin/cairn left after dpkg -r"
dpkg --purge cairn >/dev/null || fail "dpkg --purge"
dpkg-query -W -f='${Status}' cairn 2>/dev/null | grep -q "installed" && fail "still known to dpkg"
left=0
while read -r f; do
  # Folders are shared (/usr/bin); every file of the package must be gone.
  if [[ -e "$f" && ! -d "$f" ]]; then
    echo "left behind: $f" >&2
    left=1
  fi
done <"$tmp/files2"
[[ $left -eq 0 ]] || fail "files of the package left behind"
user_state | diff - "$tmp/state2" >/dev/null || fail "removing the package touched the user's files"

if [[ $failed -eq 0 ]]; then
  echo "deb package OK: $(basename "$deb1") $(du -k "$deb1" | cut -f1) KiB, $(wc -l <"$tmp/files") paths"
fi
exit $failed
