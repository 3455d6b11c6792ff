#!/usr/bin/env bash
# The container image end to end, with a real engine (podman): slow, so not
# part of CI. `scripts/package image` builds it (the .deb, a Debian 12 base
# made with mmdebstrap, podman build); then, as the README shows it:
#   1. `cairn init` in the container: a repository in a volume, the secret
#      mounted read-only;
#   2. `cairn run` (the entry point) protecting a folder mounted read-only;
#      the health check (GET /health) passes; the folder is backed up, and a
#      file changed on the host is backed up again;
#   3. `docker stop`: SIGTERM, exit 0;
#   4. `cairn restore` into another mounted folder: byte for byte the same.
#
# usage: tests/container/run.sh
# The engine's options for this machine come from scripts/lib.sh
# (cairn_podman_setup: runc where cgroups are v1, limits within the
# machine's). Environment: CAIRN_PODMAN_ARGS, more global podman options
# (e.g. "--cgroup-manager=cgroupfs --storage-driver=vfs");
# CAIRN_CONTAINER_NETWORK ("" = podman's default; "none" runs without a
# network, the dashboard then reached from inside only).
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
root=$CAIRN_ROOT
cairn_install_packages podman curl
cairn_podman_setup
podman() {
  local cmd=$1
  shift
  case $cmd in
  run) command podman "${CAIRN_PODMAN_GLOBAL[@]}" run "${CAIRN_PODMAN_LIMITS[@]}" "$@" ;;
  *) command podman "${CAIRN_PODMAN_GLOBAL[@]}" "$cmd" "$@" ;;
  esac
}

step() { echo "== $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

step "building the image (scripts/package image)"
image=$("$root/scripts/package" image)
echo "image: $image"

tmp=$(mktemp -d)
name=cairn-test-$$
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  for v in repo state cache config; do podman volume rm -f "$name-$v" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# The secret, readable by the image's user (uid 10001) only.
head -c 32 /dev/urandom | base64 >"$tmp/cairn_password"
chown 10001 "$tmp/cairn_password"
chmod 0400 "$tmp/cairn_password"
# The folder to protect, readable by everyone (as a home folder's files are).
mkdir -p "$tmp/Documents/sub" "$tmp/restored"
head -c 5000000 /dev/urandom >"$tmp/Documents/photo.raw"
echo "thesis, chapter one" >"$tmp/Documents/sub/thesis.txt"
chmod -R a+rX "$tmp/Documents"
chown 10001 "$tmp/restored"

network=()
if [[ -n "${CAIRN_CONTAINER_NETWORK:-}" ]]; then network=(--network "$CAIRN_CONTAINER_NETWORK"); fi
mounts=(
  -e DEVICE_ID=test-machine
  -v "$name-repo:/repo" -v "$name-state:/var/lib/cairn" -v "$name-cache:/var/cache/cairn"
  -v "$name-config:/etc/cairn"
  -v "$tmp/cairn_password:/run/secrets/cairn_password:ro"
  -v "$tmp/Documents:/backup/Documents:ro"
)

step "the image runs as a user of its own"
uid=$(podman run --rm "${network[@]}" --entrypoint id "$image" -u)
[[ "$uid" == 10001 ]] || fail "the container runs as uid $uid"
podman run --rm "${network[@]}" "$image" --version | head -1

step "cairn init"
podman run --rm "${network[@]}" "${mounts[@]}" "$image" init

step "cairn run (the entry point)"
publish=()
# As the README publishes it: the same port on the host's loopback (the
# dashboard answers only to the host and port it serves on, DNS-rebinding
# protection, so a different host port would need web.port changed too).
[[ "${CAIRN_CONTAINER_NETWORK:-}" == none ]] || publish=(-p 127.0.0.1:5000:5000)
podman run -d --name "$name" "${network[@]}" "${publish[@]}" "${mounts[@]}" "$image" >/dev/null
healthy=0
for _ in $(seq 1 60); do
  if podman healthcheck run "$name" >/dev/null 2>&1; then
    healthy=1
    break
  fi
  sleep 1
done
[[ $healthy -eq 1 ]] || fail "the health check does not pass: $(podman logs "$name" 2>&1 | tail -20)"
echo "health check: passes"
if ((${#publish[@]})); then
  curl -fsS http://127.0.0.1:5000/health >/dev/null || fail "/health is not reached on the published port"
  code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:5000/api/status)
  [[ "$code" == 401 ]] || fail "the API answered $code without the access token"
  echo "published port: /health answers"
fi
backed_up() {  # backed_up FILE VERSIONS: the file has that many versions
  local n
  n=$(podman exec "$name" cairn versions --json "$1" 2>/dev/null |
    grep -o '"id"' | wc -l) || true
  [[ "$n" -ge "$2" ]]
}
wait_for() {
  for _ in $(seq 1 60); do
    if backed_up "$@"; then return 0; fi
    sleep 1
  done
  fail "$1 has not $2 version(s): $(podman logs "$name" 2>&1 | tail -20)"
}
wait_for /backup/Documents/photo.raw 1
wait_for /backup/Documents/sub/thesis.txt 1
echo "thesis, chapter two" >>"$tmp/Documents/sub/thesis.txt"
wait_for /backup/Documents/sub/thesis.txt 2
echo "backed up, and a change on the host backed up again"
podman exec "$name" cairn status | head -3

step "docker stop: SIGTERM"
podman stop -t 30 "$name" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[[ "$code" == 0 ]] || fail "cairn run exited $code: $(podman logs "$name" 2>&1 | tail -20)"

step "cairn restore into a mounted folder"
podman run --rm "${network[@]}" "${mounts[@]}" -v "$tmp/restored:/restore" "$image" \
  restore /backup/Documents --to /restore
diff -r "$tmp/Documents" "$tmp/restored/backup/Documents" || fail "the restore differs"
echo "container OK: $image, backup and restore byte for byte"
