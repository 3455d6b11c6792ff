#!/bin/sh
# Installs the build into a scratch prefix (`cmake --install --prefix`) and
# checks that the binary, the man page, the completions, the systemd units,
# the example settings and the docs land where man, the shells, systemd and
# Debian expect them (packaging/README.md), and that the units start the
# installed binary.
#
# usage: check_install.sh CMAKE BUILD_DIR
set -eu
cmake=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cmake" --install "$build" --prefix "$tmp/prefix" >/dev/null
failed=0
for f in bin/cairn lib/systemd/user/cairn.service lib/systemd/system/cairn-system.service \
  share/doc/cairn/systemd/README.md share/doc/cairn/systemd/cairn.env.example \
  share/man/man1/cairn.1.gz share/bash-completion/completions/cairn \
  share/zsh/vendor-completions/_cairn share/fish/vendor_completions.d/cairn.fish \
  share/doc/cairn/examples/settings.yaml share/doc/cairn/README.md share/doc/cairn/cli.md \
  share/doc/cairn/copyright; do
  if [ ! -f "$tmp/prefix/$f" ]; then
    echo "FAIL: $f was not installed" >&2
    failed=1
  fi
done
[ -x "$tmp/prefix/bin/cairn" ] || { echo "FAIL: bin/cairn is not executable" >&2; failed=1; }
"$tmp/prefix/bin/cairn" --version >/dev/null || { echo "FAIL: the installed cairn does not run" >&2; failed=1; }
# The man page is the installed binary's own, gzipped as Debian wants it.
"$tmp/prefix/bin/cairn" man >"$tmp/man.1"
gzip -dc "$tmp/prefix/share/man/man1/cairn.1.gz" 2>/dev/null | cmp -s - "$tmp/man.1" ||
  { echo "FAIL: the installed man page is not what \`cairn man\` prints" >&2; failed=1; }
# ExecStart names the binary of the configured prefix, with its settings file.
for unit in lib/systemd/user/cairn.service lib/systemd/system/cairn-system.service; do
  if ! grep -q '^ExecStart=/.*/cairn run --config ' "$tmp/prefix/$unit" 2>/dev/null; then
    echo "FAIL: $unit does not start \`cairn run --config ...\`" >&2
    failed=1
  fi
done
[ $failed -eq 0 ] && echo "installed layout OK"
exit $failed
