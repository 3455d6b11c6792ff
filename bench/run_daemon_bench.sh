#!/usr/bin/env bash
# The figures of `cairn run` (continuous protection, issue 11), from one command.
#
#   ./bench/run_daemon_bench.sh [--quick] [--only LIST] [--out FILE] [--bench-dir DIR]
#                               [--build-dir DIR]
#
#   --quick           small version (~2-3 minutes): the drivers/net subset instead of the kernel
#                     tree, 10,000 files instead of 1,000,000, 10,000 folders instead of 100,000,
#                     100 changes, 500 batches, 10 s of idle
#   --only LIST       any of latency,batch,month,watch,run (default: all)
#   --out FILE        the markdown tables (default bench/results/daemon.md; with --quick
#                     bench/results/daemon-quick.md); raw numbers go beside it as
#                     raw-daemon-<date>[-quick].tsv (+ -latency.tsv, one line per change)
#   --bench-dir DIR   cache and work folder (default $CAIRN_BENCH_DIR, else /work/bench-cache);
#                     everything of this benchmark is under DIR/daemon/
#   --build-dir DIR   the Release build to use and (re)build (default build-rel/ in the clone;
#                     configured with -DCAIRN_BUILD_BENCH=ON -DCAIRN_BUILD_TESTS=OFF if missing)
#
# Builds `cairn` and `daemon_bench`, makes the trees and their first backups once (cached in
# DIR/daemon/: the 1,000,000-file tree and its repository take ~10 minutes the first time),
# runs the figures and writes the tables. See bench/README.md ("Daemon benchmark").
set -euo pipefail

BENCH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_SRC/.." && pwd)"
ARGS_USED="$*"
QUICK=0 ONLY="latency,batch,month,watch,run" OUT="" BUILD_DIR="$ROOT/build-rel"
BENCH_DIR="${CAIRN_BENCH_DIR:-/work/bench-cache}"

die() { echo "run_daemon_bench.sh: ERROR: $*" >&2; exit 1; }
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --only) ONLY="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --bench-dir) BENCH_DIR="${2:?}"; shift 2 ;;
    --build-dir) BUILD_DIR="${2:?}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
for s in ${ONLY//,/ }; do
  case "$s" in latency|batch|month|watch|run) ;; *) die "unknown figure '$s'" ;; esac
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }

if ((QUICK)); then
  OUT="${OUT:-$BENCH_SRC/results/daemon-quick.md}"
  TREE_NAME=quick; FILES_NAME=files10k; FOLDERS_NAME=folders10k
  CHANGES=100; BATCHES=10; MONTH=500; IDLE=10; RUN_CHANGES=20; WATCH_REPS=3
else
  OUT="${OUT:-$BENCH_SRC/results/daemon.md}"
  TREE_NAME=kernel; FILES_NAME=files1m; FOLDERS_NAME=folders100k
  CHANGES=1000; BATCHES=30; MONTH=10000; IDLE=60; RUN_CHANGES=100; WATCH_REPS=3
fi

mkdir -p "$BENCH_DIR" "$(dirname "$OUT")"
BENCH_DIR="$(cd "$BENCH_DIR" && pwd)"
OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
case "$BENCH_DIR/" in "$ROOT/"*) die "the bench dir must be outside the source tree ($ROOT)" ;; esac
DD="$BENCH_DIR/daemon"
mkdir -p "$DD"
exec 9>"$DD/.lock"
flock -n 9 || die "another daemon benchmark is running in $DD"

STAMP="$(date -u +%Y%m%d-%H%M%S)"
SUFFIX=""; if ((QUICK)); then SUFFIX="-quick"; fi
RAW="$(dirname "$OUT")/raw-daemon-$STAMP$SUFFIX.tsv"
SAMPLES="$(dirname "$OUT")/raw-daemon-$STAMP$SUFFIX-latency.tsv"
LOGDIR="$DD/logs/$STAMP"
mkdir -p "$LOGDIR"
META="$LOGDIR/meta"
: >"$RAW"
trap 'echo "run_daemon_bench.sh: failed at line $LINENO: $BASH_COMMAND (logs: $LOGDIR)" >&2' ERR
say() { echo "[daemon-bench $(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- build
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  say "configuring $BUILD_DIR (Release, bench on, tests off)"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCAIRN_BUILD_BENCH=ON \
    -DCAIRN_BUILD_TESTS=OFF >/dev/null
fi
grep -q 'CAIRN_BUILD_BENCH:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" ||
  die "$BUILD_DIR is not configured with -DCAIRN_BUILD_BENCH=ON"
say "building cairn and daemon_bench in $BUILD_DIR"
ninja -C "$BUILD_DIR" -j2 --quiet cairn daemon_bench
CAIRN="$BUILD_DIR/cmd/cairn/cairn"
DBENCH="$BUILD_DIR/bench/daemon_bench"

# ---------------------------------------------------------------- trees and repositories (cached)
CORPUS_NAME=full; if ((QUICK)); then CORPUS_NAME=quick; fi
if [[ ! -f "$BENCH_DIR/corpus/$CORPUS_NAME/info" ]]; then
  say "building the corpus (bench/prepare_corpus.sh)"
  "$BENCH_SRC/prepare_corpus.sh" --bench-dir "$BENCH_DIR"
fi

# A copy of the corpus to change (the corpus itself is never modified).
ensure_corpus_tree() {  # NAME SOURCE
  local dir="$DD/$1"
  if [[ ! -d "$dir/tree" ]]; then
    say "copying $2 to $dir/tree"
    rm -rf "$dir/tree.partial"; mkdir -p "$dir"
    cp -a "$2" "$dir/tree.partial"
    mv "$dir/tree.partial" "$dir/tree"
  fi
}
ensure_made_tree() {  # NAME make_tree.py-arguments...
  local name="$1"; shift
  if [[ ! -d "$DD/$name/tree" ]]; then
    say "making $DD/$name/tree"
    mkdir -p "$DD/$name"
    python3 "$BENCH_SRC/daemon/make_tree.py" "$1" "$DD/$name/tree" "${@:2}"
  fi
}
# The first backup of a tree into its own repository (kept; later runs only add to it).
ensure_repo() {  # NAME
  local dir="$DD/$1"
  if [[ ! -f "$dir/.complete" ]]; then
    say "first backup of $dir/tree into $dir/repo"
    rm -rf "$dir/repo" "$dir/home"
    "$DBENCH" prepare --home "$dir/home" --repo "$dir/repo" --tree "$dir/tree" --case "$1" \
      --raw "$dir/prepare.tsv" 2>&1 | tee "$LOGDIR/prepare-$1.log" >&2
    touch "$dir/.complete"
  fi
}

if ((QUICK)); then
  ensure_corpus_tree quick "$BENCH_DIR/corpus/quick/pristine"
  ensure_made_tree files10k files --folders 10 --per-folder 1000
  ensure_made_tree folders10k folders --top 10 --per-folder 1000
else
  ensure_corpus_tree kernel "$BENCH_DIR/corpus/full/pristine"
  ensure_made_tree files1m files --folders 1000 --per-folder 1000
  ensure_made_tree folders100k folders --top 100 --per-folder 1000
fi
ensure_made_tree files100 files --folders 1 --per-folder 100
TREE="$DD/$TREE_NAME/tree"
if want latency || want batch || want month; then ensure_repo "$TREE_NAME"; fi
if want batch; then ensure_repo "$FILES_NAME"; ensure_repo files100; fi

# ---------------------------------------------------------------- the watch limit
WATCH_LIMIT_NOTE=""
limit="$(cat /proc/sys/fs/inotify/max_user_watches)"
# What cairn itself would advise for the largest tree (RecommendedWatchLimit: a quarter more,
# rounded up to a multiple of 65,536); raised for the run only, and put back at the end.
need=$((QUICK ? 65536 : 131072))
RESTORE_LIMIT=""
if want watch && ((limit < need)); then
  if [[ $EUID -eq 0 ]] && sysctl -q -w fs.inotify.max_user_watches="$need" 2>/dev/null; then
    RESTORE_LIMIT="$limit"
    WATCH_LIMIT_NOTE="raised from $limit to $need for this run (sysctl fs.inotify.max_user_watches; put back afterwards)"
  else
    WATCH_LIMIT_NOTE="$limit, and could not be raised (not root?): the largest tree may not be fully watched"
  fi
else
  WATCH_LIMIT_NOTE="$limit (unchanged; enough)"
fi

# ---------------------------------------------------------------- machine, load
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "command=./bench/run_daemon_bench.sh${ARGS_USED:+ $ARGS_USED}"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
  echo "cores=$(nproc)"
  echo "ram=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "disk=$(df -hT "$BENCH_DIR" | awk 'NR == 2 {print $2 " on " $1 ", " $3 " total, " $5 " free"}') (bench dir $BENCH_DIR)"
  echo "cairn=$("$CAIRN" --version 2>&1 | head -n1) (commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)$(
    [[ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]] && echo ", uncommitted changes"); $BUILD_DIR)"
  echo "watch_limit=$WATCH_LIMIT_NOTE"
  echo "quick=$QUICK"
  echo "tree=$TREE_NAME"
  echo "files=$FILES_NAME"
  echo "folders=$FOLDERS_NAME"
  echo "raw=$(basename "$RAW")"
  echo "samples=$(basename "$SAMPLES")"
} >"$META"

# The load average every 5 s while the figures run (the tables give it per figure).
LOADLOG="$LOGDIR/load.tsv"
( while :; do echo "$(date +%s) $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 5; done ) >"$LOADLOG" &
LOADER=$!
cleanup() {
  kill "$LOADER" 2>/dev/null || true
  if [[ -n "$RESTORE_LIMIT" ]]; then sysctl -q -w fs.inotify.max_user_watches="$RESTORE_LIMIT" || true; fi
}
trap cleanup EXIT
step() {  # NAME: marks when a figure starts or ends in the meta file
  echo "step_$1=$(date +%s)" >>"$META"
}

# ---------------------------------------------------------------- the figures
if want watch; then
  for t in "$TREE_NAME" "$FOLDERS_NAME"; do
    say "watch set-up: $t"
    step "watch-$t-start"
    # A fresh process per tree, so its heap figures are its own.
    "$DBENCH" watch --tree "$DD/$t/tree" --case "$t" --reps "$WATCH_REPS" --raw "$RAW" \
      2>&1 | tee "$LOGDIR/watch-$t.log" >&2
    step "watch-$t-end"
  done
fi

if want latency; then
  say "latency: $CHANGES changes, one every 100 ms, on $TREE_NAME"
  step latency-start
  "$DBENCH" latency --home "$DD/$TREE_NAME/home" --repo "$DD/$TREE_NAME/repo" --tree "$TREE" \
    --changes "$CHANGES" --interval-ms 100 --case "$TREE_NAME" --raw "$RAW" --samples "$SAMPLES" \
    2>&1 | tee "$LOGDIR/latency.log" >&2
  step latency-end
fi

if want batch; then
  for t in files100 "$TREE_NAME" "$FILES_NAME"; do
    say "batch cost: $BATCHES batches of 3 files, repository of $t"
    step "batch-$t-start"
    "$DBENCH" batch --home "$DD/$t/home" --repo "$DD/$t/repo" --tree "$DD/$t/tree" \
      --batches "$BATCHES" --case "$t" --raw "$RAW" --samples "$LOGDIR/batch-$t.tsv" \
      2>&1 | tee "$LOGDIR/batch-$t.log" >&2
    step "batch-$t-end"
  done
  # A diagnostic: the same with glibc's own mmap threshold instead of cairn's (what the read
  # buffers that every batch maps anew cost; see results/daemon-analysis.md).
  t="$TREE_NAME"
  say "batch cost, diagnostic: repository of $t, glibc's default malloc"
  step "batch-$t-default-malloc-start"
  "$DBENCH" batch --home "$DD/$t/home" --repo "$DD/$t/repo" --tree "$DD/$t/tree" \
    --batches "$BATCHES" --case "$t-default-malloc" --malloc default --raw "$RAW" \
    --samples "$LOGDIR/batch-$t-default-malloc.tsv" 2>&1 | tee "$LOGDIR/batch-$t-default-malloc.log" >&2
  step "batch-$t-default-malloc-end"
fi

if want month; then
  say "a month: $MONTH batches on a copy of the $TREE_NAME repository"
  M="$DD/work/month"
  rm -rf "$M"; mkdir -p "$M"
  cp -a "$DD/$TREE_NAME/repo" "$M/repo"
  cp -a "$DD/$TREE_NAME/home" "$M/home"
  step month-start
  "$DBENCH" month --home "$M/home" --repo "$M/repo" --docs "$M/docs" --batches "$MONTH" \
    --compact-every 0 --ls-tree "$TREE" --case "$TREE_NAME" --raw "$RAW" \
    2>&1 | tee "$LOGDIR/month.log" >&2
  step month-end
fi

if want run; then
  say "the real cairn run on $TREE_NAME: first backup (catch-up), ${IDLE} s idle, $RUN_CHANGES changes"
  R="$DD/work/run"
  step run-start
  python3 "$BENCH_SRC/daemon/probe_run.py" --cairn "$CAIRN" --home "$R/home" --repo "$R/repo" \
    --tree "$TREE" --idle "$IDLE" --changes "$RUN_CHANGES" --case "$TREE_NAME" --raw "$RAW" \
    --log "$LOGDIR/cairn-run.log" 2>&1 | tee "$LOGDIR/run.log" >&2
  step run-end
fi

kill $LOADER 2>/dev/null || true
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"

# ---------------------------------------------------------------- the tables
python3 "$BENCH_SRC/daemon/report.py" --raw "$RAW" --meta "$META" --load "$LOADLOG" \
  --samples "$SAMPLES" --out "$OUT"
say "wrote $OUT (raw: $RAW; logs: $LOGDIR)"
