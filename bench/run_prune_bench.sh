#!/usr/bin/env bash
# Retention and prune, cairn beside restic on the same data (issue 12, "Figures").
#
#   ./bench/run_prune_bench.sh [--quick] [--rounds N] [--keep-last K] [--out FILE]
#                              [--bench-dir DIR] [--cairn BINARY] [--tools cairn,restic]
#                              [--edits random|working-set] [--repeat N]
#
#   --quick           smoke test: the linux-source-6.1/drivers/net subset, 5 rounds (~2 minutes)
#   --rounds N        rounds of ~2% edits, each followed by a backup (default 20; 5 with --quick)
#   --keep-last K     the policy: cairn `forget --keep-last K`, restic `forget --keep-last K`
#                     (default 5; 2 with --quick, so that 5 rounds leave something to drop)
#   --out FILE        the markdown tables (default bench/results/prune.md; with --quick
#                     bench/results/prune-quick.md). Raw numbers go beside it as
#                     raw-prune-<date>[-quick].tsv.
#   --bench-dir DIR   cache and work folder (default $CAIRN_BENCH_DIR, else /work/bench-cache);
#                     this benchmark works in DIR/prune/
#   --cairn BINARY    use this cairn instead of building build-bench/ (Release)
#   --tools LIST      cairn, restic or both (default both)
#   --edits MODE      random: each round edits other files, chosen at random (default);
#                     working-set: each round edits the same 2% of the files again (then
#                     "last K snapshots" and "last K versions of each file" keep the same data)
#   --repeat N        time each tool's forget + prune N times, each on a fresh copy of its
#                     repository and cache as they were after the last round, the tools
#                     alternating; the tables show the median (default 3; 1 with --quick)
#
# Steps: both tools back up the corpus (run_bench.sh's, built by prepare_corpus.sh), then N rounds
# of `mutate.py TREE SEED 2 [SET_SEED]` (seed 1000+round) with a backup by each tool after each
# round; then the policy (cairn: forget + prune; restic: forget --prune, both --max-unused 10%) timed
# (--repeat times, on copies), the repository measured before and after; a full restore of the newest state, verified; and, on a
# copy of cairn's repository taken before forget, `cairn prune` while another device backs up a
# small folder in a loop (how long a backup waits because of a prune). See bench/README.md.
set -euo pipefail

BENCH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_SRC/.." && pwd)"
ARGS_USED="$*"

QUICK=0 ROUNDS="" KEEP_LAST="" OUT="" CAIRN_BIN="" TOOLS="cairn,restic" EDITS=random REPEAT=
BENCH_DIR="${CAIRN_BENCH_DIR:-/work/bench-cache}"
EDIT_PERCENT=2        # mutate.py: share of the files edited per round
SEED_BASE=1000        # round r mutates with seed SEED_BASE + r
SET_SEED=7            # --edits working-set: which files form the working set
MAX_UNUSED=10%        # cairn's default; restic 0.14's default is 5%, so it is given to both
LOOP_BEFORE=10        # other-device backups before the concurrent prune starts ...
LOOP_AFTER=10         # ... and after it ended (the "outside prune" figures)
LOOP_PAUSE=0.5        # seconds between two of them
LOOP_LOCK_WAIT=600    # CAIRN_LOCK_WAIT for them: wait for the lock rather than give up

die() { echo "run_prune_bench.sh: ERROR: $*" >&2; exit 1; }
usage() { sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --rounds) ROUNDS="${2:?}"; shift 2 ;;
    --keep-last) KEEP_LAST="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --bench-dir) BENCH_DIR="${2:?}"; shift 2 ;;
    --cairn) CAIRN_BIN="${2:?}"; shift 2 ;;
    --tools) TOOLS="${2:?}"; shift 2 ;;
    --edits) EDITS="${2:?}"; shift 2 ;;
    --repeat) REPEAT="${2:?}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

if ((QUICK)); then
  ROUNDS="${ROUNDS:-5}"; KEEP_LAST="${KEEP_LAST:-2}"; REPEAT="${REPEAT:-1}"; OUT="${OUT:-$BENCH_SRC/results/prune-quick.md}"; CORPUS_NAME=quick
else
  ROUNDS="${ROUNDS:-20}"; KEEP_LAST="${KEEP_LAST:-5}"; REPEAT="${REPEAT:-3}"; OUT="${OUT:-$BENCH_SRC/results/prune.md}"; CORPUS_NAME=full
fi
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
[[ "$KEEP_LAST" =~ ^[1-9][0-9]*$ ]] || die "--keep-last must be a positive integer"
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "--repeat must be a positive integer"
IFS=, read -r -a TOOL_LIST <<<"$TOOLS"
((${#TOOL_LIST[@]})) || die "--tools is empty"
for t in "${TOOL_LIST[@]}"; do
  case "$t" in cairn|restic) ;; *) die "unknown tool '$t' (cairn, restic)" ;; esac
done
case "$EDITS" in random) MUTATE_EXTRA=() ;; working-set) MUTATE_EXTRA=("$SET_SEED") ;;
  *) die "--edits is random or working-set" ;; esac
has_tool() { [[ ",$TOOLS," == *",$1,"* ]]; }

mkdir -p "$BENCH_DIR" "$(dirname "$OUT")"
BENCH_DIR="$(cd "$BENCH_DIR" && pwd)"
OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
case "$BENCH_DIR/" in "$ROOT/"*) die "the bench dir must be outside the source tree ($ROOT)" ;; esac

# The same lock as run_bench.sh and run_azure_bench.sh: they share the corpus and the disk.
exec 9>"$BENCH_DIR/.lock"
flock -n 9 || die "another benchmark is running in $BENCH_DIR"

STAMP="$(date -u +%Y%m%d-%H%M%S)"
SUFFIX=""; if ((QUICK)); then SUFFIX="-quick"; fi
RAW="$(dirname "$OUT")/raw-prune-$STAMP$SUFFIX.tsv"
P="$BENCH_DIR/prune"
LOGDIR="$P/logs/$STAMP"
mkdir -p "$LOGDIR"
trap 'echo "run_prune_bench.sh: failed at line $LINENO: $BASH_COMMAND (logs: $LOGDIR)" >&2' ERR

say() { echo "[prune-bench $(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- tools
need_pkgs=()
for p in time rsync python3 util-linux diffutils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if has_tool restic; then
  dpkg-query -W -f='${Status}' restic 2>/dev/null | grep -q "install ok installed" || need_pkgs+=(restic)
fi
if ((${#need_pkgs[@]})); then
  say "installing: ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (package time)"

if has_tool cairn; then
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
  # Before anything long: the benchmark is about prune.
  if ! help="$("$CAIRN_BIN" prune --help 2>&1)" || ! grep -qi 'prune' <<<"$help" ||
     ! grep -q -- '--max-unused' <<<"$help"; then
    die "this cairn has no prune command ($CAIRN_BIN: \`cairn prune --help\` failed or does not offer --max-unused)"
  fi
fi

# ---------------------------------------------------------------- corpus
"$BENCH_SRC/prepare_corpus.sh" --bench-dir "$BENCH_DIR"
CORPUS="$BENCH_DIR/corpus/$CORPUS_NAME"
[[ -f "$CORPUS/info" ]] || die "corpus not ready: $CORPUS"
# The other device's folder: 8 files, 0.5 MB (in both corpora).
OTHER_SRC="$CORPUS/pristine/linux-source-6.1/drivers/net/ethernet/intel/e1000"
[[ -d "$OTHER_SRC" ]] || die "missing in the corpus: $OTHER_SRC"

W="$P/work"
LIVE="$W/live"            # every backup of the rounds reads this same path
TARGET="$W/restore"       # every restore writes into this empty folder
OTHER_TREE="$W/other"     # the other device's folder
REPOS="$W/repos"
HOMES="$W/home"
TMPD="$W/tmp"
rm -rf "$REPOS" "$HOMES" "$OTHER_TREE" "$TMPD"
mkdir -p "$W" "$REPOS" "$HOMES" "$TMPD"
PASSWORD="cairn-bench-password-not-secret"

# warm, evict, busy_ticks, du_bytes, verify
# shellcheck source=lib.sh
source "$BENCH_SRC/lib.sh"

# The restore target: as in run_bench.sh, a fresh ext4 file system for every restore when root
# with loop devices (restore times on a long-used ext4 depend on the inodes earlier restores
# deleted), else a plain folder.
TARGET_IMG="$W/restore.img"
TARGET_DEV=""
TARGET_FS="a folder on the bench disk"
if [[ $EUID -eq 0 ]] && command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null &&
   losetup -f >/dev/null 2>&1; then
  TARGET_FS="a fresh ext4 file system for every restore (sparse image on the bench disk, loop device with direct I/O)"
fi
drop_target() {
  if mountpoint -q "$TARGET"; then umount "$TARGET"; fi
  if [[ -n "$TARGET_DEV" ]]; then losetup -d "$TARGET_DEV" 2>/dev/null || true; TARGET_DEV=""; fi
  rm -f "$TARGET_IMG"
  rm -rf "$TARGET"
}
fresh_target() {
  drop_target
  mkdir -p "$TARGET"
  [[ "$TARGET_FS" == "a fresh ext4"* ]] || return 0
  local bytes; bytes="$(sed -n 's/^pristine: .*, \([0-9]*\) bytes.*/\1/p' "$CORPUS/info")"
  [[ -n "$bytes" ]] || die "cannot read the corpus size from $CORPUS/info"
  truncate -s "$(( (bytes * 3 / 1048576 + 1024) ))M" "$TARGET_IMG"
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$TARGET_IMG"
  TARGET_DEV="$(losetup --direct-io=on -f --show "$TARGET_IMG")"
  mount "$TARGET_DEV" "$TARGET"
}
LOOP_PID=""
cleanup() {
  if [[ -n "$LOOP_PID" ]]; then kill "$LOOP_PID" 2>/dev/null || true; fi
  drop_target 2>/dev/null || true
}
trap cleanup EXIT

SYNCED=(sh -c 'target="$1"; shift; "$@" || exit $?; exec sync -f "$target"' sync-after)

# Who runs a command: its repository, home and variables.
#   cairn   device "bench", the measured repository     restic  the measured repository
#   cairn-c device "bench" on the copy (concurrent phase)  other  device "other" on the copy
repo_of() {
  case "$1" in cairn) echo "$REPOS/cairn" ;; restic) echo "$REPOS/restic" ;; *) echo "$REPOS/cairn-c" ;; esac
}
env_of() {  # WHO -> the env -i command line in ENVV
  local h="$HOMES/$1"
  ENVV=(env -i "PATH=$PATH" LANG=C.UTF-8 "HOME=$h" "XDG_CACHE_HOME=$h/.cache"
    "XDG_CONFIG_HOME=$h/.config" "XDG_DATA_HOME=$h/.local/share" "XDG_STATE_HOME=$h/.local/state"
    "TMPDIR=$TMPD")
  case "$1" in
    cairn|cairn-c) ENVV+=("CAIRN_PASSWORD=$PASSWORD" "CAIRN_REPOSITORY=$(repo_of "$1")" DEVICE_ID=bench) ;;
    other) ENVV+=("CAIRN_PASSWORD=$PASSWORD" "CAIRN_REPOSITORY=$(repo_of other)" DEVICE_ID=other
             "CAIRN_LOCK_WAIT=$LOOP_LOCK_WAIT") ;;
    restic) ENVV+=("RESTIC_PASSWORD=$PASSWORD" "RESTIC_REPOSITORY=$(repo_of restic)") ;;
  esac
}

printf 'phase\ttool\tstep\tround\twall_s\tuser_s\tsys_s\tmaxrss_kib\texit\tother_cpu_s\trepo_bytes\tverified\tstart_s\tend_s\n' >"$RAW"
FAILURES=()
# Times from $EPOCHREALTIME in integer microseconds (no python per step: its start-up alone takes
# a second on a busy machine).
us() { local t="${1//[.,]/}"; echo $((10#$t)); }
secs() { printf '%d.%03d' $(($1 / 1000000)) $((($1 % 1000000) / 1000)); }  # µs -> "s.mmm"
T0="$(us "$EPOCHREALTIME")"
rel() { secs $(($(us "$1") - T0)); }

# tool_run PHASE WHO STEP ROUND -- CMD... : time CMD (cwd $W) in WHO's environment; sets LAST_RC
# and LAST_ROW (without repo_bytes, verified). The tool's output goes to $LOGDIR.
tool_run() {
  local phase="$1" who="$2" step="$3" round="$4"; shift 5
  local log="$LOGDIR/$phase-$who-$step${round:+-$round}.log" tf="$LOGDIR/.time"
  env_of "$who"
  : >"$tf"
  sync
  LAST_RC=0
  local busy0 busy1 t0 t1
  busy0="$(busy_ticks)"; t0="$EPOCHREALTIME"
  (cd "$W" && exec /usr/bin/time -f '%e %U %S %M' -o "$tf" "${ENVV[@]}" "$@") \
    >"$log" 2>&1 </dev/null || LAST_RC=$?
  t1="$EPOCHREALTIME"; busy1="$(busy_ticks)"
  local wall usr sys rss other=NA
  read -r wall usr sys rss < <(grep -E '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$' "$tf" | tail -n1) || true
  if [[ -n "${usr:-}" ]]; then
    other="$(awk -v b="$((busy1 - busy0))" -v k="$CLK_TCK" -v u="$usr" -v s="$sys" \
      'BEGIN { x = b / k - u - s; printf "%.2f", x < 0 ? 0 : x }')"
  fi
  LAST_ROW=("$phase" "$who" "$step" "$round" "${wall:-NA}" "${usr:-NA}" "${sys:-NA}" "${rss:-NA}" "$LAST_RC" "$other")
  LAST_T=("$(rel "$t0")" "$(rel "$t1")")
  LAST_US=("$(us "$t0")" "$(us "$t1")")
  if ((LAST_RC != 0)); then
    say "!!! $who $step${round:+ $round} FAILED (exit $LAST_RC) — log: $log"
    tail -n 5 "$log" | sed 's/^/    /' >&2
    FAILURES+=("$phase: $who $step${round:+ $round} exited $LAST_RC (log: $log)")
  else
    say "$who $step${round:+ $round}: ${wall}s wall, $(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')s cpu, $((rss / 1024)) MiB"
  fi
}
emit() {  # REPO_BYTES VERIFIED -> the raw row
  local IFS=$'\t'
  echo "${LAST_ROW[*]}"$'\t'"$1"$'\t'"$2"$'\t'"${LAST_T[0]}"$'\t'"${LAST_T[1]}" >>"$RAW"
}

backup_cmd() {  # WHO DIR -> CMD in BCMD
  case "$1" in
    restic) BCMD=(restic backup "$2") ;;
    *) BCMD=("$CAIRN_BIN" --no-progress backup "$2") ;;
  esac
}

# ---------------------------------------------------------------- machine and versions
META="$LOGDIR/meta"
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "command=./bench/run_prune_bench.sh${ARGS_USED:+ $ARGS_USED}"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
  echo "cores=$(nproc)"
  echo "ram=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "disk=$(df -hT "$BENCH_DIR" | awk 'NR == 2 {print $2 " on " $1 ", " $3 " total, " $5 " free"}') (bench dir $BENCH_DIR)"
  echo "cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'aes|sha_ni|avx2|avx512f|vaes' | tr '\n' ' ')"
  if has_tool cairn; then
    echo "v_cairn=$("$CAIRN_BIN" --version 2>&1 | head -n1) (commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)$(
      [[ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]] && echo ", uncommitted changes"); $CAIRN_BIN)"
  fi
  if has_tool restic; then echo "v_restic=$(restic version 2>&1 | head -n1)"; fi
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "tools=$TOOLS"
  echo "rounds=$ROUNDS"
  echo "keep_last=$KEEP_LAST"
  echo "repeat=$REPEAT"
  echo "edit_percent=$EDIT_PERCENT"
  echo "edits=$EDITS"
  echo "set_seed=$SET_SEED"
  echo "seed_base=$SEED_BASE"
  echo "max_unused=$MAX_UNUSED"
  echo "loop_pause=$LOOP_PAUSE"
  echo "loop_lock_wait=$LOOP_LOCK_WAIT"
  echo "other_tree=${OTHER_SRC#"$CORPUS/pristine/linux-source-6.1/"}: $(find "$OTHER_SRC" -type f | wc -l) files, $(du -sb "$OTHER_SRC" | cut -f1) bytes"
  echo "restore_target=$TARGET_FS"
  sed 's/^/corpus_/; s/: /=/' "$CORPUS/info"
} >"$META"

# ---------------------------------------------------------------- 1. the history
say "corpus: $(sed -n 's/^pristine: //p' "$CORPUS/info"); $ROUNDS rounds of ${EDIT_PERCENT}% edits; logs in $LOGDIR"
rsync -a --delete "$CORPUS/pristine/" "$LIVE/"
declare -A ALIVE=()
for t in "${TOOL_LIST[@]}"; do
  case "$t" in
    cairn) tool_run history cairn init "" -- "$CAIRN_BIN" init ;;
    restic) tool_run history restic init "" -- restic init --repository-version 2 ;;
  esac
  emit "$(du_bytes "$(repo_of "$t")")" ""
  ((LAST_RC == 0)) && ALIVE[$t]=1
done
for ((r = 0; r <= ROUNDS; r++)); do
  if ((r > 0)); then
    python3 "$BENCH_SRC/mutate.py" "$LIVE" "$((SEED_BASE + r))" "$EDIT_PERCENT" "${MUTATE_EXTRA[@]}" \
      >"$LOGDIR/mutation-$r.txt"
    echo "mutation_$r=$(cat "$LOGDIR/mutation-$r.txt")" >>"$META"
    say "round $r/$ROUNDS: $(cat "$LOGDIR/mutation-$r.txt")"
  fi
  warm "$LIVE"
  order=("${TOOL_LIST[@]}")
  if ((r % 2 == 1)); then
    order=(); for ((i = ${#TOOL_LIST[@]} - 1; i >= 0; i--)); do order+=("${TOOL_LIST[i]}"); done
  fi
  for t in "${order[@]}"; do
    [[ -n "${ALIVE[$t]:-}" ]] || continue
    backup_cmd "$t" "$LIVE"
    tool_run history "$t" "$( ((r == 0)) && echo backup-initial || echo backup)" "$r" -- "${BCMD[@]}"
    emit "$(du_bytes "$(repo_of "$t")")" ""
    if ((LAST_RC != 0)); then say "skipping the rest of $t"; unset "ALIVE[$t]"; fi
  done
done

# A copy of cairn's repository and catalog as they are now, for the concurrent prune (step 4).
if [[ -n "${ALIVE[cairn]:-}" ]]; then
  cp -a "$REPOS/cairn" "$REPOS/cairn-c"
  cp -a "$HOMES/cairn" "$HOMES/cairn-c"
fi

# ---------------------------------------------------------------- 2-3. the policy, then restore
# The repositories' files are dropped from the page cache first: a prune runs long after the
# backups that wrote the data (the tools' own caches and catalogs are kept, as a user's would be).
# With --repeat N each tool's run is repeated on fresh copies of its repository and home as they
# are now (the tools alternating, so that neither always runs first); the last run's result is
# what the restore reads.
declare -A BEFORE=()
for t in "${TOOL_LIST[@]}"; do
  [[ -n "${ALIVE[$t]:-}" ]] || continue
  BEFORE[$t]="$(du_bytes "$(repo_of "$t")")"
  echo "repo_before_policy_$t=${BEFORE[$t]}" >>"$META"
  if ((REPEAT > 1)); then
    cp -a "$(repo_of "$t")" "$REPOS/$t-pre"
    cp -a "$HOMES/$t" "$HOMES/$t-pre"
  fi
done
for ((i = 1; i <= REPEAT; i++)); do
  order=("${TOOL_LIST[@]}")
  if ((i % 2 == 0)); then
    order=(); for ((k = ${#TOOL_LIST[@]} - 1; k >= 0; k--)); do order+=("${TOOL_LIST[k]}"); done
  fi
  for t in "${order[@]}"; do
    [[ -n "${ALIVE[$t]:-}" ]] || continue
    repo="$(repo_of "$t")"
    if ((i > 1)); then
      rm -rf "$repo" "$HOMES/$t"
      cp -a "$REPOS/$t-pre" "$repo"
      cp -a "$HOMES/$t-pre" "$HOMES/$t"
    fi
    evict "$repo"
    if [[ "$t" == cairn ]]; then
      # One command, as restic's `forget --prune` (prune's default --max-unused is 10%).
      tool_run policy cairn forget-prune "$i" -- "$CAIRN_BIN" --no-progress forget \
        --keep-last "$KEEP_LAST" --prune
    else
      tool_run policy restic forget-prune "$i" -- restic forget --keep-last "$KEEP_LAST" --prune \
        --max-unused "$MAX_UNUSED"
    fi
    emit "$(du_bytes "$repo")" ""
    cp "$LOGDIR/policy-$t-forget-prune-$i.log" "$LOGDIR/summary-$t-forget-prune.txt"
    if ((LAST_RC != 0)); then unset "ALIVE[$t]"; fi
  done
done
rm -rf "$REPOS"/*-pre "$HOMES"/*-pre

for t in "${TOOL_LIST[@]}"; do
  [[ -n "${ALIVE[$t]:-}" ]] || continue
  repo="$(repo_of "$t")"
  fresh_target
  evict "$repo"
  case "$t" in
    cairn) tool_run restore cairn restore "" -- "${SYNCED[@]}" "$TARGET" \
             "$CAIRN_BIN" --no-progress restore "$LIVE" --to "$TARGET" ;;
    restic) tool_run restore restic restore "" -- "${SYNCED[@]}" "$TARGET" \
              restic restore latest --target "$TARGET" ;;
  esac
  if ((LAST_RC == 0)); then
    v="$(verify "$LIVE" "$TARGET$LIVE" "$LOGDIR/restore-$t-verify.log")"
  else
    v="FAILED: exit $LAST_RC"
  fi
  [[ "$v" == ok ]] || say "!!! $t restore verification: $v"
  [[ "$v" != FAILED* ]] || FAILURES+=("$t restore not identical: $v")
  emit "" "$v"
  drop_target
done

# ---------------------------------------------------------------- 4. backups during a prune
# On the copy of cairn's repository: device "other" (its own home, as another machine) backs up
# a small folder, one file changed before each backup, every $LOOP_PAUSE s, while device "bench"
# runs forget (before the loop starts) and then prune.
if [[ -n "${ALIVE[cairn]:-}" ]]; then
  cp -a "$OTHER_SRC" "$OTHER_TREE"
  mkdir -p "$HOMES/other"
  tool_run concurrent other backup-first "" -- "$CAIRN_BIN" --no-progress backup "$OTHER_TREE"
  emit "$(du_bytes "$REPOS/cairn-c")" ""
  tool_run concurrent cairn-c forget "" -- "$CAIRN_BIN" --no-progress forget --keep-last "$KEEP_LAST"
  emit "$(du_bytes "$REPOS/cairn-c")" ""
  if ((LAST_RC == 0)); then
    LOOP_TSV="$LOGDIR/loop.tsv"; STOP="$LOGDIR/loop.stop"
    : >"$LOOP_TSV"; rm -f "$STOP"
    mapfile -t other_files < <(find "$OTHER_TREE" -type f | sort)
    (
      set +e
      env_of other
      i=0
      while [[ ! -e "$STOP" ]]; do
        i=$((i + 1))
        echo "/* other device, change $i */" >>"${other_files[i % ${#other_files[@]}]}"
        tf="$LOGDIR/.time-loop"; : >"$tf"
        t0="$EPOCHREALTIME"
        (cd "$W" && exec /usr/bin/time -f '%e %U %S %M' -o "$tf" "${ENVV[@]}" \
          "$CAIRN_BIN" --no-progress backup "$OTHER_TREE") >>"$LOGDIR/concurrent-other-loop.log" 2>&1 </dev/null
        rc=$?
        t1="$EPOCHREALTIME"
        read -r _w usr sys rss < <(grep -E '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$' "$tf" | tail -n1)
        printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$t0" "$t1" "$rc" "${usr:-NA}" "${sys:-NA}" "${rss:-NA}" >>"$LOOP_TSV"
        sleep "$LOOP_PAUSE"
      done
    ) &
    LOOP_PID=$!
    loop_rows_after() {  # T (µs) -> loop backups that started after T
      awk -F'\t' -v t="$1" '{ s = $2; gsub(/[.,]/, "", s); if (s + 0 > t + 0) n++ } END { print n + 0 }' "$LOOP_TSV"
    }
    while (($(wc -l <"$LOOP_TSV") < LOOP_BEFORE)); do
      kill -0 "$LOOP_PID" 2>/dev/null || die "the backup loop died (log: $LOGDIR/concurrent-other-loop.log)"
      sleep 0.2
    done
    say "concurrent prune: $LOOP_BEFORE backups of device other done; starting prune"
    tool_run concurrent cairn-c prune "" -- "$CAIRN_BIN" --no-progress prune --max-unused "$MAX_UNUSED"
    PRUNE_T0="${LAST_US[0]}" PRUNE_T1="${LAST_US[1]}"   # the prune process's own start and end
    emit "$(du_bytes "$REPOS/cairn-c")" ""
    while (($(loop_rows_after "$PRUNE_T1") < LOOP_AFTER)); do
      kill -0 "$LOOP_PID" 2>/dev/null || die "the backup loop died (log: $LOGDIR/concurrent-other-loop.log)"
      sleep 0.2
    done
    touch "$STOP"
    wait "$LOOP_PID" || true
    LOOP_PID=""
    # Each backup of the loop as a raw row; "during" = its run overlapped the prune's.
    while IFS=$'\t' read -r i t0 t1 rc usr sys rss; do
      phase=outside
      if (($(us "$t0") < PRUNE_T1 && $(us "$t1") > PRUNE_T0)); then phase=during; fi
      wall="$(secs $(($(us "$t1") - $(us "$t0"))))"
      ((rc == 0)) || FAILURES+=("concurrent: backup $i of device other exited $rc (log: $LOGDIR/concurrent-other-loop.log)")
      printf 'concurrent\tother\tloop-backup-%s\t%s\t%s\t%s\t%s\t%s\t%s\tNA\t\t\t%s\t%s\n' "$phase" "$i" "$wall" \
        "$usr" "$sys" "$rss" "$rc" "$(rel "$t0")" "$(rel "$t1")" >>"$RAW"
    done <"$LOOP_TSV"
  fi
fi

# ---------------------------------------------------------------- the tables
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
# What the tools printed about the policy goes into the page.
if [[ -f "$LOGDIR/concurrent-cairn-c-prune.log" ]]; then
  cp "$LOGDIR/concurrent-cairn-c-prune.log" "$LOGDIR/summary-cairn-concurrent-prune.txt"
fi
python3 - "$RAW" "$META" "$OUT" "$(basename "$RAW")" "$LOGDIR" <<'EOF'
import csv, os, re, statistics, sys
raw, meta_path, out, raw_name, logdir = sys.argv[1:6]
meta = {}
for line in open(meta_path):
    k, _, v = line.rstrip("\n").partition("=")
    meta[k] = v
rows = list(csv.DictReader(open(raw), delimiter="\t"))
tools = [t for t in ("cairn", "restic") if t in meta["tools"].split(",")]
K = meta["keep_last"]

def find(phase, who, step):
    return [r for r in rows if r["phase"] == phase and r["tool"] == who and r["step"] == step]

def one(phase, who, step):
    r = find(phase, who, step)
    return r[0] if r else None

def ok(r):
    return r is not None and r["exit"] == "0" and r["wall_s"] != "NA"

def f(x, d=2):
    if x is None:
        return "–"
    t = ("%.*f" % (d, x)) if abs(x) < 10 else "%.1f" % x if abs(x) < 100 else "%.0f" % x
    return t[1:] if re.fullmatch(r"-0\.?0*", t) else t

def mib(b):
    return None if b is None else b / 2**20

def cpu(r):
    return float(r["user_s"]) + float(r["sys_s"])

# policy: per tool, (wall, cpu, rss_kib, before, after, failed)
pol = {}
for t in tools:
    got = find("policy", t, "forget-prune")  # one row per --repeat run
    if not got:
        continue
    good = [s for s in got if ok(s)]
    failed = len(good) != len(got)
    before = int(meta.get("repo_before_policy_" + t, "0") or 0)
    after = int(got[-1]["repo_bytes"]) if got[-1]["repo_bytes"] else None
    pol[t] = dict(
        steps=got, failed=failed or not good,
        wall=statistics.median(float(s["wall_s"]) for s in good) if good else None,
        walls=[float(s["wall_s"]) for s in good],
        cpu=statistics.median(cpu(s) for s in good) if good else None,
        rss=max((int(s["maxrss_kib"]) for s in good), default=None),
        before=before, after=after)

def summary(fn):
    p = os.path.join(logdir, "summary-%s.txt" % fn)
    return open(p, errors="replace").read() if os.path.exists(p) else ""
dropped = {}
m = re.search(r"forgot (\d+) of (\d+) versions", summary("cairn-forget-prune"))
if m:
    dropped["cairn"] = "%s of %s file versions" % (m.group(1), m.group(2))
def held_back(text):  # cairn prune: "... (0.12 s with backups held back)" -> seconds, or None
    m = re.search(r"\(([0-9.]+) s with backups held back\)", text)
    return float(m.group(1)) if m else None
m1 = re.search(r"^remove (\d+) snapshots", summary("restic-forget-prune"), re.M)
m2 = re.search(r"^keep (\d+) snapshots", summary("restic-forget-prune"), re.M)
if m2:
    n = int(m1.group(1)) if m1 else 0
    dropped["restic"] = "%d of %d snapshots" % (n, n + int(m2.group(1)))

ws = meta.get("edits") == "working-set"
L = []
L.append("# cairn prune vs restic forget --prune")
L.append("")
L.append("%s · `%s` · %s rounds of %s%% edits, policy: keep the last %s. "
         "How to read this: [bench/README.md](../README.md#prune-benchmark)." % (
             meta["date"], meta["command"], meta["rounds"], meta["edit_percent"], K))
L.append("")
L.append("- **Machine:** %s, %s cores (%s), %s RAM, Linux %s, %s; disk: %s" % (
    meta["cpu"], meta["cores"], meta["cpu_flags"].strip(), meta["ram"], meta["kernel"], meta["os"], meta["disk"]))
timed = [r for r in rows if r["phase"] in ("history", "policy", "restore") and r["other_cpu_s"] not in ("", "NA")]
other = sum(float(r["other_cpu_s"]) for r in timed)
wall = sum(float(r["wall_s"]) for r in timed if r["wall_s"] != "NA")
pol_rows = [r for r in timed if r["phase"] == "policy"]
pol_other = sum(float(r["other_cpu_s"]) for r in pol_rows)
pol_wall = sum(float(r["wall_s"]) for r in pol_rows)
share = other / wall if wall else 0
L.append("- **Other load:** CPU time used by other processes during the timed steps: %.0f s over %.0f s "
         "of timed wall time (%.0f%% of one core; during forget + prune: %.0f s over %.0f s)%s. "
         "Load average at the start: %s, at the end: %s." % (
             other, wall, 100 * share, pol_other, pol_wall,
             " — **the machine was busy with other work: figures are noisier and slower than on a quiet machine**"
             if share > 0.15 else "", meta["load_start"], meta.get("load_end", "?")))
L.append("- **Tools:** " + "; ".join(meta[k] for k in ("v_cairn", "v_restic") if k in meta))
L.append("- **Corpus:** %s — %s. Each tool has its own repository on the same disk, encrypted, "
         "default compression (cairn zstd 1, restic `init --repository-version 2`, auto)." % (
             meta["corpus_corpus"], meta["corpus_pristine"]))
muts = [meta[k] for k in sorted((k for k in meta if k.startswith("mutation_")), key=lambda k: int(k[9:]))]
L.append("- **History:** an initial backup, then %s rounds of `bench/mutate.py LIVE %s+round %s%s` "
         "(round 1: %s), each followed by a backup by each tool of the same tree (order alternating). "
         "%s" % (
             meta["rounds"], meta["seed_base"], meta["edit_percent"],
             " %s" % meta["set_seed"] if ws else "", muts[0] if muts else "?",
             "Edits: **working set** — every round edits the same files again (those whose path "
             "hashes below %s%%), plus 10 files deleted and 10 added at random." % meta["edit_percent"]
             if ws else "Edits: **random** — every round edits other files, chosen at random, and "
             "deletes 10 and adds 10."))
L.append("- **Policy:** cairn `forget --keep-last %s --prune` (one command; prune's --max-unused is %s); restic `forget --keep-last %s "
         "--prune --max-unused %s` (restic 0.14's default is 5%%; 10%% is cairn's, given to both; "
         "restic applies it to the whole repository's unused share, cairn to each pack's). "
         "The repository's files were evicted from the page cache before; the tools' local caches "
         "(restic's cache, cairn's catalog) were kept. Each tool's forget + prune ran %s time(s), each on "
         "a fresh copy of its repository and cache as they were after the last round, the tools "
         "alternating. Restores write into %s and are timed until "
         "`sync -f` of the target returns." % (K, meta["max_unused"], K, meta["max_unused"], meta.get("repeat", "1"), meta["restore_target"]))
L.append("")

# goal
L.append("### Goal (issue 12)")
L.append("")
L.append("≥ 3× faster than restic 0.14's prune at ≤ its memory, storage after prune within 5% of restic's.")
L.append("")
if "cairn" in pol and "restic" in pol and not pol["cairn"]["failed"] and not pol["restic"]["failed"]:
    c, r = pol["cairn"], pol["restic"]
    sp = r["wall"] / c["wall"] if c["wall"] else None
    L.append("- speed (medians of %s runs each): restic %s s ÷ cairn %s s = **%.2f×** — %s (forget dropped %s in cairn, %s in "
             "restic; prune freed %s MiB and %s MiB)" % (
        meta.get("repeat", "1"), f(r["wall"]), f(c["wall"]), sp, "met" if sp >= 3 else "**not met**",
        dropped.get("cairn", "?"), dropped.get("restic", "?"),
        f(mib(c["before"] - c["after"]), 1), f(mib(r["before"] - r["after"]), 1)))
    L.append("- memory: cairn %s MiB, restic %s MiB — %s" % (
        f(c["rss"] / 1024, 1), f(r["rss"] / 1024, 1), "met" if c["rss"] <= r["rss"] else "**not met**"))
    st = c["after"] / r["after"] if r["after"] else None
    L.append("- storage after: cairn %s MiB, restic %s MiB, cairn ÷ restic = **%.3f** — %s (%s: see "
             "*The two policies* below)" % (
                 f(mib(c["after"]), 1), f(mib(r["after"]), 1), st, "met" if st <= 1.05 else "**not met**",
                 "the same versions kept but for deleted files" if ws else "not like for like"))
    L.append("- cairn's peak RSS includes its key derivation (Argon2id, 64 MiB): every cairn command peaks at "
             "~80 MiB or more; restic's includes its scrypt.")
else:
    L.append("- not evaluated: needs both tools' forget + prune to succeed.")
L.append("")

L.append("### Forget + prune")
L.append("")
head = ["", *tools] + (["restic ÷ cairn"] if len(tools) == 2 else [])
L.append("| " + " | ".join(head) + " |")
L.append("|" + "---|" * len(head))
def line(label, get, d=2, ratio=True):
    vals = [get(t) if t in pol else None for t in tools]
    cells = [label] + [("FAILED" if t in pol and pol[t]["failed"] else f(v, d)) for t, v in zip(tools, vals)]
    if len(tools) == 2:
        cells.append("%.2f×" % (vals[1] / vals[0]) if ratio and all(v for v in vals) else "")
    L.append("| " + " | ".join(cells) + " |")
if "cairn" in pol:
    hb = held_back(summary("cairn-forget-prune"))
    L.append("| of which under the exclusive lock (backups held back), s | %s |%s" % (
        f(hb) if hb is not None else "–", " | |" if len(tools) == 2 else ""))
L.append("| forget dropped | " + " | ".join(dropped.get(t, "–") for t in tools) + (" | |" if len(tools) == 2 else " |"))
line("**wall time, forget + prune, s** (median of %s)" % meta.get("repeat", "1"), lambda t: pol[t]["wall"])
if int(meta.get("repeat", "1")) > 1:
    L.append("| every run's wall time, s | " + " | ".join(
        ", ".join(f(w) for w in pol[t]["walls"]) if t in pol else "–" for t in tools) +
        (" | %.2f–%.2f× |" % (min(pol["restic"]["walls"]) / max(pol["cairn"]["walls"]),
                             max(pol["restic"]["walls"]) / min(pol["cairn"]["walls"]))
         if len(tools) == 2 and all(t in pol and pol[t]["walls"] for t in tools) else " |"))
line("CPU time (user + system), s, median", lambda t: pol[t]["cpu"])
line("peak RSS, MiB (largest process)", lambda t: pol[t]["rss"] / 1024 if pol[t]["rss"] else None, 1)
line("repository before, MiB", lambda t: mib(pol[t]["before"]), 1)
line("**repository after, MiB**", lambda t: mib(pol[t]["after"]), 1)
line("freed, MiB", lambda t: mib(pol[t]["before"] - pol[t]["after"]) if pol[t]["after"] is not None else None, 1, False)
L.append("")

L.append("### Full restore of the newest state (after prune)")
L.append("")
L.append("| | " + " | ".join(tools) + " |")
L.append("|" + "---|" * (len(tools) + 1))
rs = {t: one("restore", t, "restore") for t in tools}
L.append("| wall time, s | " + " | ".join(f(float(rs[t]["wall_s"])) if ok(rs[t]) else ("FAILED" if rs[t] else "–") for t in tools) + " |")
L.append("| CPU time, s | " + " | ".join(f(cpu(rs[t])) if ok(rs[t]) else "–" for t in tools) + " |")
L.append("| peak RSS, MiB | " + " | ".join(f(int(rs[t]["maxrss_kib"]) / 1024, 1) if ok(rs[t]) else "–" for t in tools) + " |")
L.append("| identical to the source tree | " + " | ".join(
    ("yes" if rs[t]["verified"] == "ok" else "**%s**" % rs[t]["verified"]) if rs[t] else "–" for t in tools) + " |")
L.append("")

L.append("### The history that was pruned")
L.append("")
L.append("| | " + " | ".join(tools) + " |")
L.append("|" + "---|" * (len(tools) + 1))
def hist(t, step):
    return [r for r in find("history", t, step) if ok(r)]
L.append("| initial backup, s | " + " | ".join(
    f(float(hist(t, "backup-initial")[0]["wall_s"])) if hist(t, "backup-initial") else "–" for t in tools) + " |")
L.append("| backup after a round, s — median (min–max) | " + " | ".join(
    ("%s (%s–%s)" % (f(statistics.median(x)), f(min(x)), f(max(x)))) if x else "–"
    for x in ([float(r["wall_s"]) for r in hist(t, "backup")] for t in tools)) + " |")
L.append("| repository after the initial backup, MiB | " + " | ".join(
    f(mib(int(hist(t, "backup-initial")[0]["repo_bytes"])), 1) if hist(t, "backup-initial") else "–" for t in tools) + " |")
L.append("| repository after the last round, MiB | " + " | ".join(
    f(mib(int(hist(t, "backup")[-1]["repo_bytes"])), 1) if hist(t, "backup") else "–" for t in tools) + " |")
fails = [r for r in rows if r["phase"] == "history" and r["exit"] != "0"]
L.append("")
if fails:
    L.append("⚠ failed: " + "; ".join("%s %s %s (exit %s)" % (r["tool"], r["step"], r["round"], r["exit"]) for r in fails))
    L.append("")

loop = [r for r in rows if r["phase"] == "concurrent" and r["step"].startswith("loop-backup")]
pr = one("concurrent", "cairn-c", "prune")
if "cairn" in tools:
    L.append("### Backups of another device during a prune")
    L.append("")
    if not loop or pr is None:
        L.append("Not measured (cairn failed before this step).")
    else:
        good = [r for r in loop if r["exit"] == "0"]
        during = [float(r["wall_s"]) for r in good if r["step"] == "loop-backup-during"]
        outside = [float(r["wall_s"]) for r in good if r["step"] == "loop-backup-outside"]
        nfail = len(loop) - len(good)
        med = statistics.median(outside) if outside else None
        mx = max(during) if during else None
        hb = held_back(open(os.path.join(logdir, "concurrent-cairn-c-prune.log"), errors="replace").read()
                       if os.path.exists(os.path.join(logdir, "concurrent-cairn-c-prune.log")) else "")
        L.append("On a copy of cairn's repository as it was before forget: device `bench` runs `forget "
                 "--keep-last %s` and then `prune --max-unused %s` (wall %s s, of which %s s under the "
                 "exclusive lock by its own account; peak RSS %s MiB%s; "
                 "repository %s → %s MiB), while device `other` (its own home and catalog, "
                 "`CAIRN_LOCK_WAIT=%s` so that it waits rather than gives up) changes one file of a "
                 "small folder (%s) and backs it up, every %s s." % (
                     K, meta["max_unused"], f(float(pr["wall_s"])) if ok(pr) else "FAILED",
                     f(hb) if hb is not None else "?",
                     f(int(pr["maxrss_kib"]) / 1024, 1) if ok(pr) else "–",
                     "" if ok(pr) else ", exit " + pr["exit"],
                     f(mib(int(find("concurrent", "cairn-c", "forget")[0]["repo_bytes"])), 1),
                     f(mib(int(pr["repo_bytes"])), 1) if pr["repo_bytes"] else "?",
                     meta["loop_lock_wait"], meta["other_tree"], meta["loop_pause"]))
        L.append("")
        L.append("| backups of `other` | count | median, s | max, s |")
        L.append("|---|---|---|---|")
        L.append("| before or after the prune | %d | %s | %s |" % (
            len(outside), f(med, 3), f(max(outside), 3) if outside else "–"))
        L.append("| **overlapping the prune** | %d | %s | **%s** |" % (
            len(during), f(statistics.median(during), 3) if during else "–", f(mx, 3)))
        L.append("")
        if mx is not None and med:
            L.append("**Longest backup during the prune: %s s, %.1f× the median outside it (%s s)**, "
                     "i.e. %s s longer: about the longest a backup waited because of the prune "
                     "(an estimate: other load makes single backups slower too)." % (
                         f(mx, 3), mx / med, f(med, 3), f(mx - med, 3)))
        elif not during:
            L.append("No backup overlapped the prune (it was shorter than one backup plus the pause).")
        if nfail:
            L.append("")
            L.append("⚠ %d backup(s) of `other` failed (exit codes: %s)." % (
                nfail, ", ".join(sorted(set(r["exit"] for r in loop if r["exit"] != "0")))))
    L.append("")

L.append("### The two policies")
L.append("")
if ws:
    L.append("With `--edits working-set` the same files are edited in every round, so each of them has "
             "%s+1 versions, one per backup: restic's `--keep-last %s` (the last %s snapshots) and "
             "cairn's (each file's %s newest versions) keep the **same versions** of them, and both keep "
             "the one version of every file never edited. They differ for the files deleted at random "
             "(10 a round): restic keeps a deleted file only while one of the last %s snapshots has it; "
             "cairn keeps a deleted file's last version for `retention_days` (for ever with no "
             "settings, as here). The general difference, which the default random edits show:" % (
                 meta["rounds"], K, K, K, K))
    L.append("")
L.append("restic's `--keep-last %s` keeps the last %s **snapshots** (one per backup here), so each "
         "file's versions that one of the last %s backups saw: its newest, plus those replaced during "
         "the last %s rounds. cairn's `--keep-last %s` keeps each file's %s newest **versions** "
         "(identical consecutive versions count once; docs/design.md §19), however old. So cairn "
         "always keeps what restic keeps, and more for every file whose previous versions were "
         "replaced before the last %s rounds: a file edited only in round 3 keeps both of its versions "
         "in cairn, and only the newer in restic. They keep the same data for files never edited "
         "and for files whose %s newest versions all came in the last %s rounds. Deleted files "
         "differ the same way: restic drops a file deleted before the last %s rounds; cairn keeps a "
         "deleted file's last version for `retention_days` (for ever with no settings, as here). "
         "With ~%s%% of the files edited per round, roughly 1 − (1 − %s/100)^(rounds − %s) of them "
         "have an old version only cairn keeps: **cairn's storage after prune is expected to be "
         "larger than restic's for this reason alone**, by about those files' old versions; the "
         "comparison of sizes is not like for like." % (
             K, K, K, K, K, K, K, K, K, K, meta["edit_percent"], meta["edit_percent"], K))
L.append("")
for t, name, fn in (("cairn", "cairn forget --prune", "cairn-forget-prune"),
                    ("cairn", "cairn prune, during the other device's backups", "cairn-concurrent-prune"),
                    ("restic", "restic forget --prune", "restic-forget-prune")):
    p = os.path.join(logdir, "summary-%s.txt" % fn)
    if t not in tools or not os.path.exists(p):
        continue
    text = [l.rstrip() for l in open(p, errors="replace") if l.strip()]
    if name.startswith("restic"):
        keep = [l for l in text if re.match(r"(Applying Policy|keep \d+ snapshots|remove \d+ snapshots|"
                                            r"\d+ snapshots have been removed|to repack|this removes|"
                                            r"to delete|total prune|remaining|unused size|repacking|"
                                            r"removing|rebuilding|deleting)", l)]
        text = keep or text[-12:]
    else:
        text = text[-12:]
    L.append("<details><summary>%s printed</summary>" % name)
    L.append("")
    L.append("```")
    L.extend(text)
    L.append("```")
    L.append("</details>")
    L.append("")
allfails = [r for r in rows if r["exit"] not in ("0",)]
if allfails:
    L.append("### ⚠ Failed steps")
    L.append("")
    for r in allfails:
        L.append("- %s: %s %s %s exited %s" % (r["phase"], r["tool"], r["step"], r["round"], r["exit"]))
    L.append("")
L.append("Raw numbers: [%s](%s) (one line per timed step and per backup of the other device; "
         "start and end in seconds from the start of the run)." % (raw_name, raw_name))
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
