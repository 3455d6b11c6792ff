#!/usr/bin/env bash
# The web server's figures (issue 13, "Figures"): bench/web_bench.cc on a real server and client.
#
#   ./bench/run_web_bench.sh [--quick] [--out FILE] [--bench-dir DIR] [--corpus TREE | --no-corpus]
#                            [--reps N] [--clients N] [--seconds S] [--fresh] [--no-diagnostics]
#
#   --quick           smoke test: 10,000 files, 100 versions, 5 requests a cell, 3 s of load, the
#                     drivers/net corpus (~2 minutes)
#   --out FILE        the markdown tables (default bench/results/web.md; with --quick
#                     bench/results/web-quick.md). Raw numbers go beside it as
#                     raw-web-<date>[-quick].tsv.
#   --bench-dir DIR   cache and work folder (default $CAIRN_BENCH_DIR, else /work/bench-cache);
#                     this benchmark works in DIR/web/{full,quick}/ and keeps its repositories
#                     there for the next run
#   --corpus TREE     the tree searched as "the kernel corpus" (default: the kernel tree of
#                     prepare_corpus.sh, DIR/corpus/full/pristine/linux-source-6.1, with --quick
#                     DIR/corpus/quick/pristine/linux-source-6.1/drivers/net; when absent, the
#                     search over it is skipped and the page says so)
#   --no-corpus       skip the search over the kernel corpus
#   --prepare-corpus  run bench/prepare_corpus.sh first when the corpus is missing (downloads the
#                     linux-source-6.1 package: a few minutes)
#   --reps N          requests per cell (default 20; 5 with --quick)
#   --clients N       concurrent clients of /api/status (default 200)
#   --seconds S       how long they ask (default 10; 3 with --quick)
#   --fresh           make the repositories again instead of reusing those of an earlier run
#   --no-diagnostics  only the server as shipped (no TCP_NODELAY, backlog and thread-count runs)
#   --prepare-only    make (or check) the repositories, measure nothing: the untimed part, which
#                     can run while the machine is busy
#
# It builds web_bench in build-bench/ (Release, -DCAIRN_BUILD_BENCH=ON) and runs it; the data
# (a folder of 100,000 files, a file with 1,000 versions, the kernel tree) is made through the
# engine with the tests' cheap key derivation. See bench/README.md, "Web benchmark".
set -euo pipefail

BENCH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_SRC/.." && pwd)"
ARGS_USED="$*"

QUICK=0 OUT="" CORPUS="" NO_CORPUS=0 PREPARE_CORPUS=0 REPS="" CLIENTS=200 SECONDS_="" FRESH=0 DIAG=() PREPARE_ONLY=0
BENCH_DIR="${CAIRN_BENCH_DIR:-/work/bench-cache}"

die() { echo "run_web_bench.sh: ERROR: $*" >&2; exit 1; }
usage() { sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --bench-dir) BENCH_DIR="${2:?}"; shift 2 ;;
    --corpus) CORPUS="${2:?}"; shift 2 ;;
    --no-corpus) NO_CORPUS=1; shift ;;
    --prepare-corpus) PREPARE_CORPUS=1; shift ;;
    --reps) REPS="${2:?}"; shift 2 ;;
    --clients) CLIENTS="${2:?}"; shift 2 ;;
    --seconds) SECONDS_="${2:?}"; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    --no-diagnostics) DIAG=(--no-diagnostics); shift ;;
    --prepare-only) PREPARE_ONLY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

if ((QUICK)); then
  NAME=quick; REPS="${REPS:-5}"; SECONDS_="${SECONDS_:-3}"; OUT="${OUT:-$BENCH_SRC/results/web-quick.md}"
  SIZE_ARGS=(--files 10000 --versions 100)
else
  NAME=full; REPS="${REPS:-20}"; SECONDS_="${SECONDS_:-10}"; OUT="${OUT:-$BENCH_SRC/results/web.md}"
  SIZE_ARGS=(--files 100000 --versions 1000)
fi
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "--reps must be a positive integer"
[[ "$CLIENTS" =~ ^[1-9][0-9]*$ ]] || die "--clients must be a positive integer"
[[ "$SECONDS_" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--seconds must be a number"

mkdir -p "$BENCH_DIR" "$(dirname "$OUT")"
BENCH_DIR="$(cd "$BENCH_DIR" && pwd)"
OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
case "$BENCH_DIR/" in "$ROOT/"*) die "the bench dir must be outside the source tree ($ROOT)" ;; esac

# The same lock as the other benchmarks: never two at once on one bench dir.
exec 9>"$BENCH_DIR/.lock"
flock -n 9 || die "another benchmark is running in $BENCH_DIR"

say() { echo "[web-bench $(date +%H:%M:%S)] $*" >&2; }
STAMP="$(date -u +%Y%m%d-%H%M%S)"
SUFFIX=""; if ((QUICK)); then SUFFIX="-quick"; fi
RAW="$(dirname "$OUT")/raw-web-$STAMP$SUFFIX.tsv"
WORK="$BENCH_DIR/web/$NAME"
if ((FRESH)); then rm -rf "$WORK"; fi
mkdir -p "$WORK"

# ---------------------------------------------------------------- corpus
if ((!NO_CORPUS)) && [[ -z "$CORPUS" ]]; then
  if ((QUICK)); then
    CORPUS="$BENCH_DIR/corpus/quick/pristine/linux-source-6.1/drivers/net"
  else
    CORPUS="$BENCH_DIR/corpus/full/pristine/linux-source-6.1"
  fi
  if [[ ! -d "$CORPUS" ]] && ((PREPARE_CORPUS)); then
    "$BENCH_SRC/prepare_corpus.sh" --bench-dir "$BENCH_DIR"
  fi
fi
CORPUS_ARGS=()
if ((NO_CORPUS)); then
  say "no corpus: the search over the kernel corpus is skipped"
elif [[ -d "$CORPUS" ]]; then
  CORPUS_ARGS=(--corpus "$CORPUS")
else
  say "no corpus at $CORPUS (bench/prepare_corpus.sh, or --prepare-corpus): the search over it is skipped"
  CORPUS_ARGS=(--corpus "$CORPUS")  # web_bench says it was skipped, and why
fi

# ---------------------------------------------------------------- build
BUILD="$ROOT/build-bench"
if [[ ! -f "$BUILD/build.ninja" ]]; then
  say "configuring $BUILD (Release, benchmarks on)"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCAIRN_BUILD_BENCH=ON >/dev/null
elif ! grep -q '^CAIRN_BUILD_BENCH:BOOL=ON' "$BUILD/CMakeCache.txt"; then
  say "turning the benchmarks on in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCAIRN_BUILD_BENCH=ON >/dev/null
fi
grep -q '^CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" ||
  die "$BUILD is not a Release build"
say "building web_bench in $BUILD"
ninja -C "$BUILD" --quiet web_bench
BIN="$BUILD/bench/web_bench"
[[ -x "$BIN" ]] || die "web_bench not built: $BIN"

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
if [[ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  COMMIT="$COMMIT (uncommitted changes)"
fi

read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" 'BEGIN { exit !(l > 1.5) }'; then
  say "the 1-minute load is $LOAD1: the machine is busy, the figures will say so"
fi

# ---------------------------------------------------------------- run
if ((PREPARE_ONLY)); then
  say "preparing the data in $WORK"
  "$BIN" --dir "$WORK" "${SIZE_ARGS[@]}" "${CORPUS_ARGS[@]}" --prepare-only
  exit 0
fi
say "running $BIN (work folder $WORK)"
"$BIN" --dir "$WORK" "${SIZE_ARGS[@]}" "${CORPUS_ARGS[@]}" --reps "$REPS" --clients "$CLIENTS" \
  --seconds "$SECONDS_" "${DIAG[@]}" --out "$OUT" --raw "$RAW" --commit "$COMMIT" \
  --command "./bench/run_web_bench.sh${ARGS_USED:+ $ARGS_USED}" >/dev/null
say "done: $OUT (raw numbers: $RAW)"
