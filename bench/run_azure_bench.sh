#!/usr/bin/env bash
# cairn's Azure backend against Azurite on loopback, beside cairn's local backend on the same data
# and beside `rclone copy` of the same data to the same Azurite (the transport's yardstick).
#
#   ./bench/run_azure_bench.sh [--runs N] [--quick] [--out FILE] [--bench-dir DIR]
#                              [--cairn BINARY] [--tools LIST] [--rclone-transfers LIST]
#                              [--rclone-runs N] [--azurite-debug]
#
#   --runs N                 runs (default 3; 1 with --quick); the tool order alternates per run
#   --tools LIST             any of cairn-azure,cairn-local,rclone-repo,rclone (default all four)
#   --rclone-runs N          make the rclone copy of the corpus in the first N runs only (default
#                            1: on the full corpus it takes hours, see bench/README.md)
#   --quick                  smoke test: the linux-source-6.1/drivers/net subset (128 MB), 1 run
#   --out FILE               the markdown table (default bench/results/azure-latest.md; with
#                            --quick bench/results/azure-quick.md). Raw numbers go beside it as
#                            raw-azure-<date>[-quick].tsv.
#   --bench-dir DIR          cache and work folder (default $CAIRN_BENCH_DIR, else /work/bench-cache)
#   --cairn BINARY           use this cairn instead of building build-bench/ (Release)
#   --rclone-transfers LIST  one rclone column per value of --transfers (default 4, rclone's
#                            default; e.g. 4,16 adds a column with --transfers 16)
#   --azurite-debug          run every Azurite with `-d LOG` and count the requests each step
#                            made (slows Azurite down: for studying request patterns, not timing)
#
# Per run, each with a fresh Azurite (disk mode, in the bench dir) and a fresh home:
#   cairn-azure  cairn init + backup of the corpus to azure://cairn-bench-RUN/repo, full restore
#   cairn-local  the same with a repository folder on the bench dir's disk
#   rclone-repo  rclone copy of cairn-local's repository folder (the packs cairn sends) to the
#                Azurite and back: the transport alone, same bytes and blob count as cairn's
#   rclone-tN    rclone copy of the corpus to the Azurite, rclone copy back (--transfers N)
# Every restore is compared with the corpus by `diff -r` (untimed). Installs what is missing
# (time, rclone with apt-get; Azurite with tests/azurite/ensure_azurite.sh), reuses the corpus of
# bench/prepare_corpus.sh, and writes nothing outside the bench dir and bench/results/.
# See bench/README.md ("Azure benchmark").
set -euo pipefail

BENCH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_SRC/.." && pwd)"
ARGS_USED="$*"

RUNS="" OUT="" QUICK=0 CAIRN_BIN="" TOOLS="cairn-azure,cairn-local,rclone-repo,rclone"
TRANSFERS="4" RCLONE_RUNS=1 AZ_DEBUG=0
BENCH_DIR="${CAIRN_BENCH_DIR:-/work/bench-cache}"

die() { echo "run_azure_bench.sh: ERROR: $*" >&2; exit 1; }
usage() { sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --runs) RUNS="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --bench-dir) BENCH_DIR="${2:?}"; shift 2 ;;
    --cairn) CAIRN_BIN="${2:?}"; shift 2 ;;
    --tools) TOOLS="${2:?}"; shift 2 ;;
    --rclone-transfers) TRANSFERS="${2:?}"; shift 2 ;;
    --rclone-runs) RCLONE_RUNS="${2:?}"; shift 2 ;;
    --azurite-debug) AZ_DEBUG=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

if ((QUICK)); then
  RUNS="${RUNS:-1}"; OUT="${OUT:-$BENCH_SRC/results/azure-quick.md}"; CORPUS_NAME=quick
else
  RUNS="${RUNS:-3}"; OUT="${OUT:-$BENCH_SRC/results/azure-latest.md}"; CORPUS_NAME=full
fi
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
[[ "$RCLONE_RUNS" =~ ^[0-9]+$ ]] || die "--rclone-runs must be a non-negative integer"
TOOL_LIST=()
IFS=, read -r -a T_LIST <<<"$TRANSFERS"
IFS=, read -r -a WANT <<<"$TOOLS"
for w in "${WANT[@]}"; do
  case "$w" in
    cairn-azure|cairn-local|rclone-repo) TOOL_LIST+=("$w") ;;
    rclone)
      for t in "${T_LIST[@]}"; do
        [[ "$t" =~ ^[1-9][0-9]*$ ]] || die "--rclone-transfers: '$t' is not a positive integer"
        TOOL_LIST+=("rclone-t$t")
      done ;;
    *) die "unknown tool '$w' (cairn-azure, cairn-local, rclone-repo, rclone)" ;;
  esac
done
((${#TOOL_LIST[@]})) || die "--tools is empty"
if [[ " ${TOOL_LIST[*]} " == *" rclone-repo "* && " ${TOOL_LIST[*]} " != *" cairn-local "* ]]; then
  die "rclone-repo copies cairn-local's repository: add cairn-local to --tools"
fi

mkdir -p "$BENCH_DIR" "$(dirname "$OUT")"
BENCH_DIR="$(cd "$BENCH_DIR" && pwd)"
OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
case "$BENCH_DIR/" in "$ROOT/"*) die "the bench dir must be outside the source tree ($ROOT)" ;; esac

# The same lock as run_bench.sh: one benchmark at a time per bench dir (two at once would time
# each other).
exec 9>"$BENCH_DIR/.lock"
flock -n 9 || die "another benchmark is running in $BENCH_DIR"

STAMP="$(date -u +%Y%m%d-%H%M%S)"
SUFFIX=""; if ((QUICK)); then SUFFIX="-quick"; fi
RAW="$(dirname "$OUT")/raw-azure-$STAMP$SUFFIX.tsv"
LOGDIR="$BENCH_DIR/logs/azure-$STAMP"
mkdir -p "$LOGDIR"
trap 'echo "run_azure_bench.sh: failed at line $LINENO: $BASH_COMMAND (logs: $LOGDIR)" >&2' ERR

say() { echo "[azure-bench $(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- tools
need_pkgs=()
for p in time rclone python3 util-linux diffutils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then need_pkgs+=(nodejs npm); fi
if ((${#need_pkgs[@]})); then
  say "installing: ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (package time)"
command -v rclone >/dev/null || die "rclone missing"
AZURITE="$("$ROOT/tests/azurite/ensure_azurite.sh")" || die "cannot install Azurite (tests/azurite/ensure_azurite.sh)"

if [[ -z "$CAIRN_BIN" ]]; then
  export CAIRN_BUILD_DIR="$ROOT/build-bench"
  # shellcheck source=../scripts/lib.sh
  source "$ROOT/scripts/lib.sh"
  cairn_install_deps
  if [[ ! -f "$CAIRN_BUILD_DIR/build.ninja" ]]; then
    say "configuring $CAIRN_BUILD_DIR (Release)"
    cmake -S "$ROOT" -B "$CAIRN_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  say "building cairn in $CAIRN_BUILD_DIR"
  ninja -C "$CAIRN_BUILD_DIR" --quiet cairn
  CAIRN_BIN="$CAIRN_BUILD_DIR/cmd/cairn/cairn"
fi
[[ -x "$CAIRN_BIN" ]] || die "cairn binary not found: $CAIRN_BIN"
CAIRN_BIN="$(cd "$(dirname "$CAIRN_BIN")" && pwd)/$(basename "$CAIRN_BIN")"

# ---------------------------------------------------------------- corpus
# Only the pristine tree is used; pass the seed the corpus was built with so that its mutated
# copies (run_bench.sh's) are not rebuilt.
SEED="$(sed -n 's/^mutation (bench\/mutate.py, seed \([0-9]*\)).*/\1/p' "$BENCH_DIR/corpus/full/info" 2>/dev/null || true)"
"$BENCH_SRC/prepare_corpus.sh" --bench-dir "$BENCH_DIR" --seed "${SEED:-1}"
[[ -f "$BENCH_DIR/corpus/$CORPUS_NAME/info" ]] || die "corpus not ready: $BENCH_DIR/corpus/$CORPUS_NAME"
CORPUS="$(cd -P "$BENCH_DIR/corpus/$CORPUS_NAME" && pwd)"
SRC="$CORPUS/pristine"   # every tool reads this tree, in place
SRC_BYTES="$(sed -n 's/^pristine: .*, \([0-9]*\) bytes.*/\1/p' "$CORPUS/info")"
[[ "$SRC_BYTES" =~ ^[0-9]+$ ]] || die "cannot read the corpus size from $CORPUS/info"

W="$BENCH_DIR/azure-work"   # run_bench.sh's work/ is left alone
AZDIRS="$W/azurite"         # one Azurite folder per tool (fresh each run)
REPOS="$W/repos"
HOMES="$W/home"
TARGET="$W/restore"
TMPD="$W/tmp"
mkdir -p "$W" "$AZDIRS" "$REPOS" "$HOMES" "$TMPD"

PASSWORD="cairn-bench-password-not-secret"
# The published key of Azurite's default account devstoreaccount1 (as in UseDevelopmentStorage=true)
AZ_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

# ---------------------------------------------------------------- Azurite
AZ_PID="" AZ_PORT=""
start_azurite() {  # DIR [DEBUG_LOG] -> AZ_PID, AZ_PORT
  local dir="$1" dbg="${2:-}" out="$LOGDIR/azurite-run$RUN-$TOOL.out"
  rm -rf "$dir"; mkdir -p "$dir"
  : >"$out"
  local -a extra=()
  [[ -n "$dbg" ]] && extra=(-d "$dbg")
  "$AZURITE" --blobHost 127.0.0.1 --blobPort 0 --silent --disableTelemetry --location "$dir" \
    "${extra[@]}" >"$out" 2>&1 </dev/null &
  AZ_PID=$!
  AZ_PORT=""
  local i
  for ((i = 0; i < 600; i++)); do
    AZ_PORT="$(sed -n 's/.*successfully listens on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" | head -n1)"
    [[ -n "$AZ_PORT" ]] && break
    kill -0 "$AZ_PID" 2>/dev/null || { cat "$out" >&2; AZ_PID=""; die "Azurite exited at start (log: $out)"; }
    sleep 0.1
  done
  [[ -n "$AZ_PORT" ]] || { stop_azurite; die "Azurite did not start within 60 s (log: $out)"; }
}

stop_azurite() {  # SIGTERM, then SIGKILL after 20 s
  [[ -n "$AZ_PID" ]] || return 0
  kill -TERM "$AZ_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$AZ_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$AZ_PID" 2>/dev/null || true
  wait "$AZ_PID" 2>/dev/null || true
  AZ_PID=""
}
trap 'stop_azurite' EXIT

az_cpu_ticks() {  # utime + stime of the Azurite process (all its threads), or 0
  if [[ -n "$AZ_PID" && -r "/proc/$AZ_PID/stat" ]]; then
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$AZ_PID/stat"
  else
    echo 0
  fi
}
az_hwm_kib() {  # peak RSS of the Azurite process so far
  if [[ -n "$AZ_PID" && -r "/proc/$AZ_PID/status" ]]; then
    awk '/^VmHWM:/ {print $2}' "/proc/$AZ_PID/status"
  fi
}

# ---------------------------------------------------------------- helpers
# warm, evict, busy_ticks, du_bytes
# shellcheck source=lib.sh
source "$BENCH_SRC/lib.sh"

# verify SRC DST LOG EMPTY_DIRS_OK -> "ok", "ok (...)" or "FAILED: ...". Content, missing and extra
# entries and symlink targets by diff -r. With EMPTY_DIRS_OK=1 (rclone: blob storage has no
# directories) a missing directory that is empty in SRC (or holds only empty directories) is
# counted, not failed.
verify() {
  local src="$1" dst="$2" log="$3" empty_ok="$4"
  if [[ ! -d "$dst" ]]; then echo "FAILED: nothing restored at $dst"; return; fi
  if diff -r --no-dereference -q "$src" "$dst" >"$log" 2>&1; then echo ok; return; fi
  python3 - "$src" "$dst" "$log" "$empty_ok" <<'EOF'
import os, sys
src, dst, log, empty_ok = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
def only_empty_dirs(p):
    if not os.path.isdir(p) or os.path.islink(p):
        return False
    return all(only_empty_dirs(os.path.join(p, n)) for n in os.listdir(p))
bad, empty = [], 0
for line in open(log, errors="replace"):
    line = line.rstrip("\n")
    if empty_ok and line.startswith("Only in " + src):
        d, _, name = line[len("Only in "):].rpartition(": ")
        if only_empty_dirs(os.path.join(d, name)):
            empty += 1
            continue
    bad.append(line)
if bad:
    print("FAILED: %d differences (see %s)" % (len(bad), log))
else:
    print("ok (%d empty directories not stored)" % empty)
EOF
}

printf 'run\tposition\ttool\tstep\twall_s\tuser_s\tsys_s\tmaxrss_kib\texit\tazurite_cpu_s\tazurite_hwm_kib\tother_cpu_s\tstored_bytes\tcairn_stored_bytes\trequests\tverified\n' >"$RAW"
FAILURES=()
RUN=0 POS=0 TOOL=""

# tool_run STEP CWD -- CMD... : time CMD (tool $TOOL) with a clean environment plus EXTRA_ENV.
# Sets LAST_RC and LAST_ROW. Output goes to $LOGDIR.
EXTRA_ENV=()
tool_run() {
  local step="$1" cwd="$2"; shift 3
  local h="$HOMES/$TOOL" log="$LOGDIR/run$RUN-$TOOL-$step.log" tf="$LOGDIR/.time"
  local -a envv=(env -i "PATH=$PATH" LANG=C.UTF-8 "HOME=$h" "XDG_CACHE_HOME=$h/.cache"
    "XDG_CONFIG_HOME=$h/.config" "XDG_DATA_HOME=$h/.local/share" "TMPDIR=$TMPD" "${EXTRA_ENV[@]}")
  : >"$tf"
  sync
  LAST_RC=0
  local busy0 busy1 az0 az1
  busy0="$(busy_ticks)"; az0="$(az_cpu_ticks)"
  (cd "$cwd" && exec /usr/bin/time -f '%e %U %S %M' -o "$tf" "${envv[@]}" "$@") \
    >"$log" 2>&1 </dev/null || LAST_RC=$?
  busy1="$(busy_ticks)"; az1="$(az_cpu_ticks)"
  local wall usr sys rss other=NA azcpu=NA azhwm
  read -r wall usr sys rss < <(grep -E '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$' "$tf" | tail -n1) || true
  if [[ -n "$AZ_PID" ]]; then azcpu="$(python3 -c "print('%.2f' % (($az1 - $az0) / $CLK_TCK))")"; fi
  azhwm="$(az_hwm_kib)"
  if [[ -n "${usr:-}" ]]; then
    other="$(python3 -c "print('%.2f' % max(0.0, ($busy1 - $busy0 - ($az1 - $az0)) / $CLK_TCK - $usr - $sys))")"
  fi
  LAST_ROW=("$RUN" "$POS" "$TOOL" "$step" "${wall:-NA}" "${usr:-NA}" "${sys:-NA}" "${rss:-NA}" "$LAST_RC" "$azcpu" "${azhwm:-}" "$other")
  if ((LAST_RC != 0)); then
    say "!!! $TOOL $step FAILED (exit $LAST_RC) — log: $log"
    tail -n 5 "$log" | sed 's/^/    /' >&2
    FAILURES+=("run $RUN: $TOOL $step exited $LAST_RC (log: $log)")
  else
    say "$TOOL $step: ${wall}s wall, $(python3 -c "print('%.1f' % ($usr + $sys))")s cpu, $((rss / 1024)) MiB$(
      [[ "$azcpu" != NA ]] && echo "; Azurite ${azcpu}s cpu")"
  fi
}

# Requests Azurite logged since the last call (with --azurite-debug), as "Operation=N ...
# (errors: STATUS=N)"; the number of log lines already counted is kept in $DBG_SEEN_FILE.
DBG_SEEN_FILE="$LOGDIR/.debug-seen"
requests_since() {  # DEBUG_LOG
  [[ -n "${1:-}" && -f "$1" ]] || return 0
  sleep 1  # Azurite writes its log asynchronously
  python3 - "$1" "$DBG_SEEN_FILE" <<'EOF2'
import collections, os, re, sys
path, seen_file = sys.argv[1], sys.argv[2]
seen = int(open(seen_file).read() or 0) if os.path.exists(seen_file) else 0
lines = open(path, errors="replace").read().splitlines()
ops, errors = collections.Counter(), collections.Counter()
for l in lines[seen:]:
    m = re.search(r"DispatchMiddleware: Operation=(\w+)", l)
    if m:
        ops[m.group(1)] += 1
    m = re.search(r"EndMiddleware: End response\. TotalTimeInMS=\d+ StatusCode=(\d+)", l)
    if m and int(m.group(1)) >= 400:
        errors[m.group(1)] += 1
open(seen_file, "w").write(str(len(lines)))
s = "%d: " % sum(ops.values()) + " ".join("%s=%d" % kv for kv in ops.most_common())
if errors:
    s += " (errors: " + " ".join("%s=%d" % kv for kv in sorted(errors.items())) + ")"
print(s)
EOF2
}

emit() {  # STORED_BYTES CAIRN_STORED_BYTES REQUESTS VERIFIED -> the raw row
  local IFS=$'\t'
  echo "${LAST_ROW[*]}"$'\t'"$1"$'\t'"$2"$'\t'"$3"$'\t'"$4" >>"$RAW"
}

# one tool, one run: fresh Azurite (or repository folder) and home, then backup and restore
bench_tool() {
  TOOL="$1"
  local h="$HOMES/$TOOL" v dbg="" stored cstored req store_dir
  rm -rf "$h" "$TARGET"; mkdir -p "$h/.config"
  rm -f "$DBG_SEEN_FILE"
  EXTRA_ENV=()
  case "$TOOL" in
    cairn-local) store_dir="$REPOS/cairn-local"; rm -rf "$store_dir" ;;
    *)
      store_dir="$AZDIRS/$TOOL"
      ((AZ_DEBUG)) && dbg="$LOGDIR/azurite-debug-run$RUN-$TOOL.log"
      start_azurite "$store_dir" "$dbg"
      say "$TOOL: Azurite on port $AZ_PORT (pid $AZ_PID, folder $store_dir)" ;;
  esac
  local conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZ_KEY;BlobEndpoint=http://127.0.0.1:$AZ_PORT/devstoreaccount1;"
  case "$TOOL" in
    cairn-*)
      local repo="$store_dir"
      if [[ "$TOOL" == cairn-azure ]]; then
        repo="azure://cairn-bench-$RUN/repo"
        EXTRA_ENV=("AZURE_STORAGE_CONNECTION_STRING=$conn")
      fi
      EXTRA_ENV+=("CAIRN_PASSWORD=$PASSWORD" DEVICE_ID=bench)
      tool_run init "$W" -- "$CAIRN_BIN" -r "$repo" init
      emit "" "" "$(requests_since "$dbg")" ""
      if ((LAST_RC != 0)); then say "skipping the rest of $TOOL in run $RUN"; stop_azurite; return; fi
      warm "$SRC"
      tool_run backup "$W" -- "$CAIRN_BIN" -r "$repo" --json --no-progress backup "$SRC"
      cstored="$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    l = l.strip()
    if l.startswith("{"):
        try: print(json.loads(l).get("bytes_stored", "")); break
        except ValueError: pass' "$LOGDIR/run$RUN-$TOOL-backup.log" 2>/dev/null || true)"
      req="$(requests_since "$dbg")"
      sync; stored="$(du_bytes "$store_dir")"
      emit "$stored" "$cstored" "$req" ""
      if ((LAST_RC != 0)); then say "skipping the rest of $TOOL in run $RUN"; stop_azurite; return; fi
      mkdir -p "$TARGET"
      evict "$store_dir"
      tool_run restore "$W" -- "$CAIRN_BIN" -r "$repo" --no-progress restore "$SRC" --to "$TARGET"
      req="$(requests_since "$dbg")"
      if ((LAST_RC == 0)); then
        v="$(verify "$SRC" "$TARGET$SRC" "$LOGDIR/run$RUN-$TOOL-verify.log" 0)"
      else
        v="FAILED: exit $LAST_RC"
      fi ;;
    rclone-*)
      # rclone-repo: cairn-local's repository of this run (it ran just before); rclone-tN: the corpus
      local n=4 from="$SRC" remote="az:rclone-bench-$RUN/tree" empty_ok=1
      if [[ "$TOOL" == rclone-repo ]]; then
        from="$REPOS/cairn-local"
        [[ -f "$from/config" ]] || { say "rclone-repo: no cairn-local repository in run $RUN; skipped"; stop_azurite; return; }
      else
        n="${TOOL#rclone-t}"
      fi
      : >"$h/.config/rclone.conf"
      EXTRA_ENV=("RCLONE_CONFIG=$h/.config/rclone.conf" RCLONE_CONFIG_AZ_TYPE=azureblob
        RCLONE_CONFIG_AZ_USE_EMULATOR=true
        "RCLONE_CONFIG_AZ_ENDPOINT=http://127.0.0.1:$AZ_PORT/devstoreaccount1")
      warm "$from"
      tool_run backup "$W" -- rclone copy --links --transfers "$n" "$from" "$remote"
      req="$(requests_since "$dbg")"
      sync; stored="$(du_bytes "$store_dir")"
      emit "$stored" "" "$req" ""
      if ((LAST_RC != 0)); then say "skipping the rest of $TOOL in run $RUN"; stop_azurite; return; fi
      mkdir -p "$TARGET"
      evict "$store_dir"
      tool_run restore "$W" -- rclone copy --links --transfers "$n" "$remote" "$TARGET/tree"
      req="$(requests_since "$dbg")"
      if ((LAST_RC == 0)); then
        v="$(verify "$from" "$TARGET/tree" "$LOGDIR/run$RUN-$TOOL-verify.log" "$empty_ok")"
      else
        v="FAILED: exit $LAST_RC"
      fi ;;
  esac
  [[ "$v" == ok* ]] || say "!!! $TOOL restore verification: $v"
  [[ "$v" != FAILED* ]] || FAILURES+=("run $RUN: $TOOL restore not identical: $v")
  emit "" "" "$req" "$v"
  rm -rf "$TARGET"
  stop_azurite
}

# ---------------------------------------------------------------- machine and versions
META="$LOGDIR/meta"
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "command=./bench/run_azure_bench.sh${ARGS_USED:+ $ARGS_USED}"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
  echo "cores=$(nproc)"
  echo "ram=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "disk=$(df -hT "$BENCH_DIR" | awk 'NR == 2 {print $2 " on " $1 ", " $3 " total, " $5 " free"}') (bench dir $BENCH_DIR)"
  echo "cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'aes|sha_ni|avx2|avx512f|vaes' | tr '\n' ' ')"
  echo "v_cairn=$("$CAIRN_BIN" --version 2>&1 | head -n1) (commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)$(
    [[ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]] && echo ", uncommitted changes"); $CAIRN_BIN)"
  echo "v_rclone=$(rclone version 2>&1 | head -n1)"
  echo "v_azurite=Azurite $("$AZURITE" --version 2>&1 | head -n1) on Node $(node --version)"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "runs=$RUNS"
  echo "tools=$(IFS=,; echo "${TOOL_LIST[*]}")"
  echo "src_bytes=$SRC_BYTES"
  echo "azurite_debug=$AZ_DEBUG"
  echo "rclone_runs=$RCLONE_RUNS"
  sed 's/^/corpus_/; s/: /=/' "$CORPUS/info"
} >"$META"

# ---------------------------------------------------------------- the runs
say "corpus: $(sed -n 's/^pristine: //p' "$CORPUS/info"); $RUNS run(s); logs in $LOGDIR"
((AZ_DEBUG)) && say "--azurite-debug: Azurite logs every request; times are slower than without it"
if ((!QUICK && RCLONE_RUNS > 0)) && [[ " ${TOOL_LIST[*]} " == *" rclone-t"* ]]; then
  say "note: rclone's copy of the full corpus (78k blobs) takes hours on Azurite (bench/README.md," \
    "\"Azure benchmark\"); --rclone-runs 0 leaves it out"
fi
for ((RUN = 1; RUN <= RUNS; RUN++)); do
  order=("${TOOL_LIST[@]}")
  if ((RUN % 2 == 0)); then
    order=(); for ((i = ${#TOOL_LIST[@]} - 1; i >= 0; i--)); do order+=("${TOOL_LIST[i]}"); done
  fi
  # rclone-repo copies the repository cairn-local has just written: keep it right behind it
  o2=()
  for t in "${order[@]}"; do
    [[ "$t" == rclone-repo ]] && continue
    [[ "$t" == rclone-t* ]] && ((RUN > RCLONE_RUNS)) && continue
    o2+=("$t")
    [[ "$t" == cairn-local && " ${order[*]} " == *" rclone-repo "* ]] && o2+=(rclone-repo)
  done
  order=("${o2[@]}")
  say "=== run $RUN/$RUNS: ${order[*]}"
  POS=0
  for tool in "${order[@]}"; do
    POS=$((POS + 1))
    bench_tool "$tool"
  done
done

# ---------------------------------------------------------------- the table
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
python3 - "$RAW" "$META" "$OUT" "$(basename "$RAW")" <<'EOF'
import csv, statistics, sys
raw, meta_path, out, raw_name = sys.argv[1:5]
meta = {}
for line in open(meta_path):
    k, _, v = line.rstrip("\n").partition("=")
    meta[k] = v
rows = list(csv.DictReader(open(raw), delimiter="\t"))
# the tools that ran (rclone's corpus copy may have been left out by --rclone-runs 0)
tools = [t for t in meta["tools"].split(",") if any(r["tool"] == t for r in rows)]
rclones = [t for t in tools if t.startswith("rclone-")]
src_mb = int(meta["src_bytes"]) / 1e6

def short(t):  # for ratio columns
    if t == "rclone-repo": return "rclone (repository)"
    if t.startswith("rclone-t"):
        n = t[len("rclone-t"):]
        return "rclone (corpus%s)" % ("" if n == "4" else ", `--transfers %s`" % n)
    return label(t)

def label(t):
    if t == "cairn-azure": return "cairn → Azurite"
    if t == "cairn-local": return "cairn → local disk"
    if t == "rclone-repo": return "rclone → Azurite, cairn's repository"
    n = t[len("rclone-t"):]
    return "rclone → Azurite, the corpus" + ("" if n == "4" else " (`--transfers %s`)" % n)

steps = [("init", "init"), ("backup", "backup"), ("restore", "full restore (verified)")]

def ok_rows(tool, step):
    return [r for r in rows if r["tool"] == tool and r["step"] == step and r["exit"] == "0"]

def vals(tool, step, key):
    return [float(r[key]) for r in ok_rows(tool, step) if r[key] not in ("", "NA")]

def cpu(tool, step):
    return [float(r["user_s"]) + float(r["sys_s"]) for r in ok_rows(tool, step) if r["user_s"] != "NA"]

def nfail(tool, step):
    return sum(1 for r in rows if r["tool"] == tool and r["step"] == step and r["exit"] != "0")

def fmt_num(x, unit):
    if unit in ("MiB", "MB/s"):
        return "%.0f" % x if x >= 10 else "%.1f" % x
    return "%.2f" % x if x < 10 else "%.1f" % x

def cell(xs, unit, fails=0):
    if not xs:
        return "FAILED" if fails else "–"
    m = statistics.median(xs)
    s = "**%s**" % fmt_num(m, unit)
    if len(xs) > 1 and fmt_num(min(xs), unit) != fmt_num(max(xs), unit):
        s += " (%s–%s)" % (fmt_num(min(xs), unit), fmt_num(max(xs), unit))
    if fails:
        s += " ⚠ %d failed" % fails
    return s

def ratio(a, b):
    if not a or not b:
        return "–"
    return "%.2f×" % (statistics.median(a) / statistics.median(b))

L = []
L.append("# " + " vs ".join(dict.fromkeys(
    {"cairn-azure": "cairn → Azurite", "cairn-local": "cairn → local disk"}.get(t, "`rclone copy` → Azurite")
    for t in tools)))
L.append("")
L.append("%s · `%s` · %s run(s), tool order alternating, each tool with a fresh Azurite per run. "
         "How to read this: [bench/README.md](../README.md#azure-benchmark)." % (
             meta["date"], meta["command"], meta["runs"]))
L.append("")
L.append("- **Machine:** %s, %s cores (%s), %s RAM, Linux %s, %s; disk: %s" % (
    meta["cpu"], meta["cores"], meta["cpu_flags"].strip(), meta["ram"], meta["kernel"], meta["os"], meta["disk"]))
other = sum(float(r["other_cpu_s"]) for r in rows if r["other_cpu_s"] not in ("", "NA"))
timed = sum(float(r["wall_s"]) for r in rows if r["wall_s"] not in ("", "NA"))
share = other / timed if timed else 0
L.append("- **Other load:** CPU time used by other processes (not the tool, not its Azurite) during "
         "the timed steps: %.0f s over %.0f s of timed wall time (%.0f%% of one core)%s. Load average "
         "at the start: %s." % (
             other, timed, 100 * share,
             " — **the machine was busy with other work: figures are noisier and slower than on a quiet machine**"
             if share > 0.15 else "", meta["load_start"]))
L.append("- **Tools:** %s; %s; %s" % (meta["v_cairn"], meta["v_rclone"], meta["v_azurite"]))
L.append("- **Settings:** cairn defaults (zstd level 1, XChaCha20-Poly1305, 16 MiB packs), the Azure repository "
         "`azure://cairn-bench-RUN/repo` with the Azurite dev account's connection string; rclone's "
         "azureblob backend with `use_emulator = true` and `endpoint` (the Azurite's port), rclone's "
         "defaults otherwise (`--transfers 4`, `--checkers 8`, 4 MiB chunks, upload concurrency 16) "
         "plus `--links`, `rclone copy` up and back. *rclone → Azurite, the corpus* copies the same "
         "tree as cairn (one blob per file); *rclone → Azurite, cairn's repository* copies the "
         "repository cairn → local disk has just written (the packs cairn sends: same bytes, same "
         "blob count), so it measures the transport alone.%s Azurite in disk mode (`--location` in "
         "the bench dir, `--disableTelemetry`) on 127.0.0.1, a fresh one for every tool in every "
         "run%s." % (
             (" The corpus copy ran in the first %s run(s) only (`--rclone-runs`)." % meta["rclone_runs"])
             if any(t.startswith("rclone-t") for t in tools) and int(meta["rclone_runs"]) < int(meta["runs"]) else "",
             "; **`--azurite-debug`: every request logged, so Azurite is slower than usual**"
             if meta.get("azurite_debug") == "1" else ""))
L.append("- **Corpus:** %s — %s (%.0f MB; MB/s below are of this size)." % (
    meta["corpus_corpus"], meta["corpus_pristine"], src_mb))
L.append("")

cairn_az = "cairn-azure"
def table(title, unit, getter, ratios):
    L.append("### " + title)
    L.append("")
    head = ["step"] + [label(t) for t in tools]
    r_rclone = ratios and cairn_az in tools
    r_local = ratios and cairn_az in tools and "cairn-local" in tools
    if r_rclone:
        head += ["%s ÷ cairn → Azurite" % short(t) for t in rclones]
    if r_local:
        head += ["cairn → Azurite ÷ cairn → local"]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "---|" * len(head))
    for step, name in steps:
        data = {t: getter(t, step) for t in tools}
        if not any(data.values()) and not any(nfail(t, step) for t in tools):
            continue
        row = [name] + [cell(data[t], unit, nfail(t, step)) if (data[t] or nfail(t, step) or not t.startswith("rclone"))
                        else "–" for t in tools]
        if r_rclone:
            row += [ratio(data[t], data[cairn_az]) for t in rclones]
        if r_local:
            row += [ratio(data[cairn_az], data["cairn-local"])]
        L.append("| " + " | ".join(row) + " |")
    L.append("")

table("Wall time, seconds — median (min–max)", "s", lambda t, s: vals(t, s, "wall_s"), True)
L.append("Ratios are of medians: `rclone ÷ cairn` above 1× means cairn is faster; `cairn → Azurite ÷ "
         "cairn → local` is what the Azure transport costs cairn (1× = nothing).")
L.append("")
# throughput of the source size
L.append("### Throughput, MB/s of the source size (%.0f MB) — median (min–max)" % src_mb)
L.append("")
head = ["step"] + [label(t) for t in tools]
L.append("| " + " | ".join(head) + " |")
L.append("|" + "---|" * len(head))
for step, name in steps[1:]:
    row = [name] + [cell([src_mb / x for x in vals(t, step, "wall_s") if x > 0], "MB/s", nfail(t, step)) for t in tools]
    L.append("| " + " | ".join(row) + " |")
L.append("")
table("CPU time of the tool (user + system), seconds — median (min–max)", "s", cpu, False)
table("CPU time of Azurite during the step, seconds — median (min–max)", "s",
      lambda t, s: vals(t, s, "azurite_cpu_s") if t != "cairn-local" else [], False)
table("Peak RSS of the tool, MiB — median (min–max)", "MiB",
      lambda t, s: [x / 1024 for x in vals(t, s, "maxrss_kib")], False)
table("Peak RSS of Azurite since its start (end of step), MiB — median (min–max)", "MiB",
      lambda t, s: [x / 1024 for x in vals(t, s, "azurite_hwm_kib")] if t != "cairn-local" else [], False)

L.append("### Stored after the backup, MiB — median (min–max)")
L.append("")
L.append("| | " + " | ".join(label(t) for t in tools) + " |")
L.append("|" + "---|" * (len(tools) + 1))
L.append("| on disk (`du -sb` of the Azurite folder, or of the repository) | " +
         " | ".join(cell([x / 2**20 for x in vals(t, "backup", "stored_bytes")], "MiB") for t in tools) + " |")
L.append("| cairn's own count (`bytes_stored`: packs after compression and encryption) | " +
         " | ".join(cell([x / 2**20 for x in vals(t, "backup", "cairn_stored_bytes")], "MiB") for t in tools) + " |")
L.append("")

if any(r["requests"] for r in rows):
    L.append("### Requests Azurite served (`--azurite-debug`), first run")
    L.append("")
    L.append("| tool | step | requests by operation |")
    L.append("|---|---|---|")
    for r in rows:
        if r["run"] == "1" and r["requests"]:
            L.append("| %s | %s | %s |" % (label(r["tool"]), r["step"], r["requests"]))
    L.append("")

L.append("### Restore verification (`diff -r --no-dereference` against the source: the corpus, or the repository for rclone's copy of it)")
L.append("")
for t in tools:
    vs = [r["verified"] for r in rows if r["tool"] == t and r["step"] == "restore"]
    if not vs:
        continue
    ok = sum(1 for v in vs if v.startswith("ok"))
    notes = sorted(set(v for v in vs if v != "ok"))
    L.append("- %s: %d/%d restores identical%s" % (label(t), ok, len(vs),
                                                   (" — " + "; ".join(notes)) if notes else ""))
L.append("")
b_c = vals(cairn_az, "backup", "wall_s")
b_r = vals("rclone-t4", "backup", "wall_s")
b_p = vals("rclone-repo", "backup", "wall_s")
if b_c and b_r:
    m_c, m_r = statistics.median(b_c), statistics.median(b_r)
    L.append("**Target** (cairn's backup to Azurite at least as fast as rclone's plain copy of the same data, "
             "rclone's defaults): %s — cairn %.1f s, rclone %.1f s (%.2f×)." % (
                 "**met**" if m_c <= m_r else "**missed**", m_c, m_r, m_r / m_c))
    L.append("")
if b_r:
    L.append("rclone's copy of the corpus (one blob per file) is bound by Azurite's CPU (table above), "
             "and Azurite slows down as blobs accumulate in a container: see "
             "[bench/README.md](../README.md#azure-benchmark).")
    L.append("")
if b_c and b_p:
    L.append("cairn's whole backup (read, chunk, compress, encrypt, upload) took %.2f× the time rclone "
             "took to upload only the packs it produced." % (statistics.median(b_c) / statistics.median(b_p)))
    L.append("")
fails = [r for r in rows if r["exit"] != "0"]
if fails:
    L.append("### ⚠ Failed steps")
    L.append("")
    for r in fails:
        L.append("- run %s: %s %s exited %s" % (r["run"], r["tool"], r["step"], r["exit"]))
    L.append("")
L.append("Raw per-run numbers: [%s](%s)." % (raw_name, raw_name))
open(out, "w").write("\n".join(L) + "\n")
EOF

echo
cat "$OUT"
echo
say "table: $OUT; raw: $RAW; logs: $LOGDIR"
if ((${#FAILURES[@]})); then
  echo >&2
  echo "!!!!!!!! ${#FAILURES[@]} FAILURE(S):" >&2
  printf '!!! %s\n' "${FAILURES[@]}" >&2
  exit 1
fi
