# Shared by scripts/run and scripts/test: install what is missing, configure, build.
# Quick when nothing changed: a dpkg query, a no-op ninja.
set -euo pipefail

CAIRN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CAIRN_BUILD="${CAIRN_BUILD_DIR:-$CAIRN_ROOT/build}"

CAIRN_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache clang-format clang
  libsodium-dev libssl-dev libzstd-dev zlib1g-dev libsqlite3-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libcurl4-openssl-dev libarchive-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  attr acl
  libspdlog-dev libsystemd-dev libcpp-httplib-dev systemd
)

# ccache finds the objects of another build folder of the same sources (the
# package's build beside build/, another checkout) when the paths below the
# sources are taken relative to the build folder.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$CAIRN_ROOT}"
# With -g, ccache also hashes the compiler's working folder (it is written
# into the debug information), so another build folder never hit: the .deb
# test rebuilt everything (601 s; 47 s with this). The debug information then
# names the first folder's paths, which only a debugger reads.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"

# cairn_install_packages NAME...: installs those of Debian's packages that are
# missing (as root, or through sudo).
cairn_install_packages() {
  local missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

cairn_install_deps() {
  local missing=()
  for p in "${CAIRN_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Node.js runs Azurite, the Azure Storage emulator of the Azure tests, and the
# dashboard's browser test. A machine that already has node (any source) keeps
# it; otherwise Debian's.
# git: the `cairn run` test of a `git checkout` (tests/daemon_e2e_test.cc).
cairn_install_test_deps() {
  if ! command -v git >/dev/null; then
    echo "installing: git (for the daemon's end-to-end tests)" >&2
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq git >/dev/null
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "installing: nodejs npm (for the Azure tests)" >&2
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
  fi
  # The completions' test runs them in zsh and fish (cmd/cairn/completions_test.sh);
  # the package's test builds and installs the .deb (tests/package/deb_test.sh).
  cairn_install_packages zsh fish dpkg-dev
  # The dashboard's browser test (tests/browser) drives Debian's chromium.
  if [[ ! -x /usr/bin/chromium ]]; then
    echo "installing: chromium (for the dashboard's browser test)" >&2
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  fi
}

# The clang builds under sanitizers (docs/testing.md, "Sanitizers"):
# build-asan/ is -DCAIRN_FUZZ=ON (which implies ASan+UBSan), the same build as
# scripts/fuzz's; build-tsan/ is -DCAIRN_SANITIZE=thread. A report fails the
# test or fuzz run that triggered it.
CAIRN_ASAN_BUILD="${CAIRN_ASAN_BUILD_DIR:-$CAIRN_ROOT/build-asan}"
CAIRN_TSAN_BUILD="${CAIRN_TSAN_BUILD_DIR:-$CAIRN_ROOT/build-tsan}"
# The sanitizers' options for test runs (a caller's own settings win).
cairn_sanitizer_options() {
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
}

# cairn_sanitized_build address|thread [NINJA TARGETS...]: configures (once)
# and builds; prints the build folder. One build at a time per folder
# (scripts/fuzz, scripts/sanitize and scripts/test share build-asan/).
cairn_sanitized_build() {
  local kind="$1" dir
  shift
  local -a flags
  case "$kind" in
    address) dir="$CAIRN_ASAN_BUILD" flags=(-DCAIRN_FUZZ=ON) ;;
    thread) dir="$CAIRN_TSAN_BUILD" flags=(-DCAIRN_SANITIZE=thread) ;;
    *) echo "cairn_sanitized_build: address or thread, not $kind" >&2; return 2 ;;
  esac
  if [[ ! -f "$dir/build.ninja" ]]; then
    echo "configuring $dir (clang, $kind sanitizer; the first build takes a while)..." >&2
    cmake -S "$CAIRN_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${flags[@]}" >/dev/null
  fi
  local log="$dir/.last-build.log"
  if ! flock "$dir/.build.lock" ninja -C "$dir" -j"$(nproc)" "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "the build in $dir failed" >&2
    return 1
  fi
  echo "$dir"
}

# cairn_ccache_hits: ccache's hits so far (0 without ccache).
cairn_ccache_hits() {
  command -v ccache >/dev/null || { echo 0; return; }
  ccache --print-stats 2>/dev/null |
    awk '$1 == "direct_cache_hit" || $1 == "preprocessed_cache_hit" { s += $2 } END { print s + 0 }'
}

# cairn_asan_cache_warm: whether the compiler cache holds build-asan/'s
# objects (from an earlier build of these sources anywhere), judged by three
# units of different folders (so that one changed file does not decide):
# configures build-asan/ and compiles them (seconds).
cairn_asan_cache_warm() {
  local dir="$CAIRN_ASAN_BUILD" before after
  local -a units
  cairn_sanitized_build address build.ninja >/dev/null || return 1
  mapfile -t units < <(ninja -C "$dir" -t targets all |
    awk -F: '/^src\/(base|chunk|compress)\/[^ ]*\.cc\.o:/ && !seen[substr($1, 1, 8)]++ { print $1 }')
  ((${#units[@]} > 0)) || return 1
  for u in "${units[@]}"; do rm -f "$dir/$u"; done
  before=$(cairn_ccache_hits)
  cairn_sanitized_build address "${units[@]}" >/dev/null || return 1
  after=$(cairn_ccache_hits)
  ((after > before))
}

cairn_build() {
  if [[ ! -f "$CAIRN_BUILD/build.ninja" ]]; then
    echo "configuring and building cairn (the first build takes a few minutes)..." >&2
    cmake -S "$CAIRN_ROOT" -B "$CAIRN_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  local rc=0 log="$CAIRN_BUILD/.last-build.log"
  ninja -C "$CAIRN_BUILD" -j"$(nproc)" --quiet "$@" >"$log" 2>&1 || rc=$?
  grep -v "^ninja: no work to do" "$log" || true
  return $rc
}

# The container engine's options on this machine (scripts/package image,
# tests/container/run.sh): CAIRN_PODMAN_GLOBAL goes before podman's command,
# CAIRN_PODMAN_LIMITS after `run` and `build`. Where cgroups are v1 or
# hybrid, runc (crun refuses them); limits of open files and processes
# within the machine's (podman's defaults, 1M and 4M, are more than a VM may
# grant, and crun/runc then fail with "setrlimit: Operation not permitted").
# CAIRN_PODMAN_ARGS adds global options (e.g. --storage-driver=vfs).
CAIRN_PODMAN_GLOBAL=()
CAIRN_PODMAN_LIMITS=()
cairn_podman_setup() {
  read -r -a CAIRN_PODMAN_GLOBAL <<<"${CAIRN_PODMAN_ARGS:-}"
  if [[ "$(podman info --format '{{.Host.CgroupsVersion}}' 2>/dev/null)" == v1 ]]; then
    cairn_install_packages runc
    CAIRN_PODMAN_GLOBAL+=(--runtime runc)
  fi
  local nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  if [[ $nofile == unlimited || $nofile -gt 1048576 ]]; then nofile=1048576; fi
  if [[ $nproc == unlimited || $nproc -gt 32768 ]]; then nproc=32768; fi
  CAIRN_PODMAN_LIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
}
