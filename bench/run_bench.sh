#!/usr/bin/env bash
# Side-by-side benchmark of cairn, restic and borg (and `cp -a` as the restore yardstick).
#
#   ./bench/run_bench.sh [--runs N] [--restore-reps N] [--tools cairn,restic,borg,cp]
#                        [--steps backup-unchanged,backup-mutated,restore,check]
#                        [--out FILE] [--quick] [--bench-dir DIR] [--cairn BINARY] [--seed N]
#
#   --runs N          runs per tool (default 3; 1 with --quick); tool order alternates per run
#   --restore-reps N  restores per tool per run (default 2; 1 with --quick)
#   --tools LIST      any of cairn,restic,borg,cp (default: all four; cp = `cp -a` yardstick)
#   --steps LIST      which optional steps to run (default: all). init and the initial backup
#                     always run; restore and check imply backup-mutated.
#   --out FILE        the markdown table (default bench/results/latest.md; with --quick
#                     bench/results/quick.md). Raw numbers go beside it as raw-<date>.tsv.
#   --quick           smoke test: the linux-source-6.1/drivers/net subset, 1 run (~2 minutes)
#   --bench-dir DIR   cache and work folder (default $CAIRN_BENCH_DIR, else /work/bench-cache)
#   --cairn BINARY    use this cairn instead of building build-bench/ (Release)
#   --seed N          mutation seed (default 1)
#
# Installs what is missing (time, rsync, restic, borgbackup, cairn's build deps) with apt-get,
# builds the corpus once (bench/prepare_corpus.sh), and writes nothing outside the bench dir and
# bench/results/. See bench/README.md for what is measured and how.
set -euo pipefail

BENCH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_SRC/.." && pwd)"
ARGS_USED="$*"

RUNS="" RESTORE_REPS="" TOOLS="cairn,restic,borg,cp" STEPS="backup-unchanged,backup-mutated,restore,check"
OUT="" QUICK=0 CAIRN_BIN="" SEED=1
BENCH_DIR="${CAIRN_BENCH_DIR:-/work/bench-cache}"

die() { echo "run_bench.sh: ERROR: $*" >&2; exit 1; }
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --runs) RUNS="${2:?}"; shift 2 ;;
    --restore-reps) RESTORE_REPS="${2:?}"; shift 2 ;;
    --tools) TOOLS="${2:?}"; shift 2 ;;
    --steps) STEPS="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --bench-dir) BENCH_DIR="${2:?}"; shift 2 ;;
    --cairn) CAIRN_BIN="${2:?}"; shift 2 ;;
    --seed) SEED="${2:?}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

if ((QUICK)); then
  RUNS="${RUNS:-1}"; RESTORE_REPS="${RESTORE_REPS:-1}"; OUT="${OUT:-$BENCH_SRC/results/quick.md}"
  CORPUS_NAME=quick
else
  RUNS="${RUNS:-3}"; RESTORE_REPS="${RESTORE_REPS:-2}"; OUT="${OUT:-$BENCH_SRC/results/latest.md}"
  CORPUS_NAME=full
fi
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
[[ "$RESTORE_REPS" =~ ^[1-9][0-9]*$ ]] || die "--restore-reps must be a positive integer"
[[ "$SEED" =~ ^[0-9]+$ ]] || die "--seed must be a non-negative integer"

IFS=, read -r -a TOOL_LIST <<<"$TOOLS"
for t in "${TOOL_LIST[@]}"; do
  case "$t" in cairn|restic|borg|cp) ;; *) die "unknown tool '$t' (cairn, restic, borg, cp)" ;; esac
done
((${#TOOL_LIST[@]})) || die "--tools is empty"
want_step() { [[ ",$STEPS," == *",$1,"* ]]; }
for s in ${STEPS//,/ }; do
  case "$s" in backup-unchanged|backup-mutated|restore|check) ;;
    *) die "unknown step '$s' (backup-unchanged, backup-mutated, restore, check; init and backup-initial always run)" ;;
  esac
done
if want_step restore || want_step check; then STEPS="$STEPS,backup-mutated"; fi

mkdir -p "$BENCH_DIR" "$(dirname "$OUT")"
BENCH_DIR="$(cd "$BENCH_DIR" && pwd)"
OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
case "$BENCH_DIR/" in "$ROOT/"*) die "the bench dir must be outside the source tree ($ROOT)" ;; esac

exec 9>"$BENCH_DIR/.lock"
flock -n 9 || die "another benchmark is running in $BENCH_DIR"

STAMP="$(date -u +%Y%m%d-%H%M%S)"
SUFFIX=""; if ((QUICK)); then SUFFIX="-quick"; fi
RAW="$(dirname "$OUT")/raw-$STAMP$SUFFIX.tsv"
LOGDIR="$BENCH_DIR/logs/$STAMP"
mkdir -p "$LOGDIR"
trap 'echo "run_bench.sh: failed at line $LINENO: $BASH_COMMAND (logs: $LOGDIR)" >&2' ERR

say() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- tools
need_pkgs=()
for p in time rsync python3 restic borgbackup util-linux diffutils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if ((${#need_pkgs[@]})); then
  say "installing: ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (package time)"

if [[ " ${TOOL_LIST[*]} " == *" cairn "* ]]; then
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
fi

# ---------------------------------------------------------------- corpus
"$BENCH_SRC/prepare_corpus.sh" --bench-dir "$BENCH_DIR" --seed "$SEED"
CORPUS="$BENCH_DIR/corpus/$CORPUS_NAME"
[[ -f "$CORPUS/info" ]] || die "corpus not ready: $CORPUS"

W="$BENCH_DIR/work"
LIVE="$W/live"          # every backup reads this same path
TARGET="$W/restore"     # every restore writes into this empty folder
REPOS="$W/repos"
HOMES="$W/home"
TMPD="$W/tmp"
mkdir -p "$W" "$REPOS" "$HOMES" "$TMPD"

PASSWORD="cairn-bench-password-not-secret"

# ---------------------------------------------------------------- helpers
set_state() {  # pristine|mutated -> the live folder holds that state (only differing files copied)
  rsync -a --delete "$CORPUS/$1/" "$LIVE/"
}

# Every restore writes into a fresh ext4 file system (a sparse image on the bench disk, attached
# with direct I/O so its blocks are not cached twice): on a long-used file system, creating 78k
# files gets slower with every inode that earlier restores deleted (ext4 skips recently deleted
# inodes when allocating), which made restore times depend on what ran before more than on the
# tool. Without root or loop devices the target is a plain folder (said in the table).
TARGET_IMG="$W/restore.img"
TARGET_DEV=""
TARGET_FS="a folder on the bench disk"
if [[ $EUID -eq 0 ]] && command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null &&
   losetup -f >/dev/null 2>&1; then
  TARGET_FS="a fresh ext4 file system for every restore (sparse image on the bench disk, loop device with direct I/O)"
fi

drop_target() {  # unmount and remove the restore target
  if mountpoint -q "$TARGET"; then umount "$TARGET"; fi
  if [[ -n "$TARGET_DEV" ]]; then losetup -d "$TARGET_DEV" 2>/dev/null || true; TARGET_DEV=""; fi
  rm -f "$TARGET_IMG"
  rm -rf "$TARGET"
}

fresh_target() {  # an empty restore target (a new file system when possible)
  drop_target
  mkdir -p "$TARGET"
  [[ "$TARGET_FS" == "a fresh ext4"* ]] || return 0
  # Room for three copies of the corpus; sparse, so only what is written takes space.
  local bytes; bytes="$(sed -n 's/^pristine: .*, \([0-9]*\) bytes.*/\1/p' "$CORPUS/info")"
  [[ -n "$bytes" ]] || die "cannot read the corpus size from $CORPUS/info"
  truncate -s "$(( (bytes * 3 / 1048576 + 1024) ))M" "$TARGET_IMG"
  # Inode tables written now, so no background initialisation runs during the timed step.
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$TARGET_IMG"
  TARGET_DEV="$(losetup --direct-io=on -f --show "$TARGET_IMG")"
  mount "$TARGET_DEV" "$TARGET"
}

trap 'drop_target 2>/dev/null || true' EXIT

# A restore is timed until its files are on disk: cairn syncs the target before it reports
# success, the others stop with the data still in the page cache, so every tool's restore (and
# cp -a) is followed by `sync -f` of the target file system inside the timed command.
SYNCED=(sh -c 'target="$1"; shift; "$@" || exit $?; exec sync -f "$target"' sync-after)

# warm, evict, busy_ticks, du_bytes, verify
# shellcheck source=lib.sh
source "$BENCH_SRC/lib.sh"

printf 'run\tposition\ttool\tstep\trep\twall_s\tuser_s\tsys_s\tmaxrss_kib\texit\tother_cpu_s\trepo_bytes\tcache_bytes\tverified\n' >"$RAW"
FAILURES=()
RUN=0 POS=0

# tool_run TOOL STEP REP CWD -- CMD... : time CMD with the tool's environment, append a raw row.
# Sets LAST_RC. Output of the tool goes to $LOGDIR.
tool_run() {
  local tool="$1" step="$2" rep="$3" cwd="$4"; shift 5
  local h="$HOMES/$tool" log="$LOGDIR/run$RUN-$tool-$step-$rep.log" tf="$LOGDIR/.time"
  local -a envv=(env -i "PATH=$PATH" LANG=C.UTF-8 "HOME=$h" "XDG_CACHE_HOME=$h/.cache"
    "XDG_CONFIG_HOME=$h/.config" "XDG_DATA_HOME=$h/.local/share" "TMPDIR=$TMPD")
  case "$tool" in
    cairn) envv+=("CAIRN_PASSWORD=$PASSWORD" "CAIRN_REPOSITORY=$REPOS/cairn" DEVICE_ID=bench) ;;
    restic) envv+=("RESTIC_PASSWORD=$PASSWORD" "RESTIC_REPOSITORY=$REPOS/restic") ;;
    borg) envv+=("BORG_PASSPHRASE=$PASSWORD" "BORG_REPO=$REPOS/borg" BORG_DISPLAY_PASSPHRASE=n) ;;
  esac
  : >"$tf"
  sync
  LAST_RC=0
  local busy0 busy1
  busy0="$(busy_ticks)"
  (cd "$cwd" && exec /usr/bin/time -f '%e %U %S %M' -o "$tf" "${envv[@]}" "$@") \
    >"$log" 2>&1 </dev/null || LAST_RC=$?
  busy1="$(busy_ticks)"
  local wall usr sys rss other=NA
  read -r wall usr sys rss < <(grep -E '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$' "$tf" | tail -n1) || true
  if [[ -n "${usr:-}" ]]; then
    other="$(python3 -c "print('%.2f' % max(0.0, ($busy1 - $busy0) / $CLK_TCK - $usr - $sys))")"
  fi
  LAST_ROW=("$RUN" "$POS" "$tool" "$step" "$rep" "${wall:-NA}" "${usr:-NA}" "${sys:-NA}" "${rss:-NA}" "$LAST_RC" "$other")
  if ((LAST_RC != 0)); then
    say "!!! $tool $step FAILED (exit $LAST_RC) — log: $log"
    tail -n 5 "$log" | sed 's/^/    /' >&2
    FAILURES+=("run $RUN: $tool $step exited $LAST_RC (log: $log)")
  else
    say "$tool $step${rep:+ #$rep}: ${wall}s wall, $(python3 -c "print('%.1f' % ($usr + $sys))")s cpu, $((rss / 1024)) MiB"
  fi
}

emit() {  # REPO_BYTES CACHE_BYTES VERIFIED -> the raw row
  local IFS=$'\t'
  echo "${LAST_ROW[*]}"$'\t'"$1"$'\t'"$2"$'\t'"$3" >>"$RAW"
}

repo_of() { echo "$REPOS/$1"; }

# one tool, one run: fresh repository and home, then the steps
bench_tool() {
  local tool="$1" repo h rep v
  repo="$(repo_of "$tool")"; h="$HOMES/$tool"
  if [[ "$tool" == cp ]]; then
    set_state mutated
    # restore: the source evicted like the repositories are; restore-cached: the source in the
    # page cache (then cp -a only writes, which is all a restore from a cached repo would do)
    for ((rep = 1; rep <= RESTORE_REPS; rep++)); do
      for step in restore restore-cached; do
        fresh_target
        if [[ "$step" == restore ]]; then evict "$LIVE"; else warm "$LIVE"; fi
        tool_run cp "$step" "$rep" "$W" -- "${SYNCED[@]}" "$TARGET" cp -a "$LIVE" "$TARGET/live"
        v="$(verify "$LIVE" "$TARGET/live" "$LOGDIR/run$RUN-cp-$step-verify-$rep.log")"
        [[ "$v" == ok ]] || say "!!! cp -a verification: $v"
        emit "" "" "$v"
        drop_target
      done
    done
    return
  fi
  rm -rf "$repo" "$h"; mkdir -p "$h"
  set_state pristine
  local -a init backup restore check
  case "$tool" in
    cairn)
      init=("$CAIRN_BIN" init)
      backup=("$CAIRN_BIN" --no-progress backup "$LIVE")
      restore=("$CAIRN_BIN" --no-progress restore "$LIVE" --to "$TARGET")
      check=("$CAIRN_BIN" --no-progress check --read-data) ;;
    restic)
      init=(restic init --repository-version 2)
      backup=(restic backup "$LIVE")
      restore=(restic restore latest --target "$TARGET")
      check=(restic check --read-data) ;;
    borg)
      init=(borg init -e repokey-blake2)
      backup=(borg create --compression zstd,3)   # + ::name LIVE
      restore=(borg extract)                       # + ::name, run in TARGET
      check=(borg check --verify-data) ;;
  esac
  local n=0 last=""
  do_backup() {  # STEP
    n=$((n + 1))
    warm "$LIVE"
    if [[ "$tool" == borg ]]; then
      last="::b$n"
      tool_run "$tool" "$1" "" "$W" -- "${backup[@]}" "$last" "$LIVE"
    else
      tool_run "$tool" "$1" "" "$W" -- "${backup[@]}"
    fi
    emit "$(du_bytes "$repo")" "$(du_bytes "$h")" ""
    return "$LAST_RC"
  }
  tool_run "$tool" init "" "$W" -- "${init[@]}"
  emit "$(du_bytes "$repo")" "$(du_bytes "$h")" ""
  ((LAST_RC == 0)) || { say "skipping the rest of $tool in run $RUN"; return; }
  do_backup backup-initial || { say "skipping the rest of $tool in run $RUN"; return; }
  if want_step backup-unchanged; then do_backup backup-unchanged || true; fi
  if want_step backup-mutated; then
    set_state mutated
    do_backup backup-mutated || { say "skipping the rest of $tool in run $RUN"; return; }
  fi
  if want_step restore; then
    for ((rep = 1; rep <= RESTORE_REPS; rep++)); do
      fresh_target
      evict "$repo"
      if [[ "$tool" == borg ]]; then
        tool_run "$tool" restore "$rep" "$TARGET" -- "${SYNCED[@]}" "$TARGET" "${restore[@]}" "$last"
      else
        tool_run "$tool" restore "$rep" "$W" -- "${SYNCED[@]}" "$TARGET" "${restore[@]}"
      fi
      if ((LAST_RC == 0)); then
        v="$(verify "$LIVE" "$TARGET$LIVE" "$LOGDIR/run$RUN-$tool-verify-$rep.log")"
      else
        v="FAILED: exit $LAST_RC"
      fi
      [[ "$v" == ok ]] || say "!!! $tool restore verification: $v"
      [[ "$v" != FAILED* ]] || FAILURES+=("run $RUN: $tool restore #$rep not identical: $v")
      emit "" "" "$v"
      drop_target
    done
  fi
  if want_step check; then
    evict "$repo"
    tool_run "$tool" check "" "$W" -- "${check[@]}"
    emit "" "" ""
  fi
}

# ---------------------------------------------------------------- machine and versions
META="$LOGDIR/meta"
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "command=./bench/run_bench.sh${ARGS_USED:+ $ARGS_USED}"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
  echo "cores=$(nproc)"
  echo "ram=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "disk=$(df -hT "$BENCH_DIR" | awk 'NR == 2 {print $2 " on " $1 ", " $3 " total, " $5 " free"}') (bench dir $BENCH_DIR)"
  echo "cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'aes|sha_ni|avx2|avx512f|vaes' | tr '\n' ' ')"
  if [[ -n "$CAIRN_BIN" ]]; then
    echo "v_cairn=$("$CAIRN_BIN" --version 2>&1 | head -n1) (commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)$(
      [[ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]] && echo ", uncommitted changes"); $CAIRN_BIN)"
  fi
  echo "v_restic=$(restic version 2>&1 | head -n1)"
  echo "v_borg=$(borg --version 2>&1 | head -n1)"
  echo "v_cp=$(cp --version | head -n1)"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "runs=$RUNS"
  echo "restore_reps=$RESTORE_REPS"
  echo "tools=$TOOLS"
  echo "restore_target=$TARGET_FS"
  sed 's/^/corpus_/; s/: /=/' "$CORPUS/info"
} >"$META"

# ---------------------------------------------------------------- the runs
say "corpus: $(sed -n 's/^pristine: //p' "$CORPUS/info"); $RUNS run(s); logs in $LOGDIR"
for ((RUN = 1; RUN <= RUNS; RUN++)); do
  order=("${TOOL_LIST[@]}")
  if ((RUN % 2 == 0)); then
    order=(); for ((i = ${#TOOL_LIST[@]} - 1; i >= 0; i--)); do order+=("${TOOL_LIST[i]}"); done
  fi
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
tools = [t for t in ["cairn", "restic", "borg"] if t in meta["tools"].split(",")]
has_cp = "cp" in meta["tools"].split(",")
steps = [("init", "init"), ("backup-initial", "initial backup"),
         ("backup-unchanged", "backup, nothing changed"), ("backup-mutated", "backup after the mutation"),
         ("restore", "full restore"), ("check", "check, reading all data")]

def vals(tool, step, key):
    out = []
    for r in rows:
        if r["tool"] == tool and r["step"] == step and r["exit"] == "0" and r[key] not in ("", "NA"):
            out.append(float(r[key]))
    return out

def cpu(tool, step):
    return [float(r["user_s"]) + float(r["sys_s"]) for r in rows
            if r["tool"] == tool and r["step"] == step and r["exit"] == "0" and r["user_s"] != "NA"]

def nfail(tool, step):
    return sum(1 for r in rows if r["tool"] == tool and r["step"] == step and r["exit"] != "0")

def fmt_num(x, unit):
    if unit == "MiB":
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
L.append("# cairn vs restic vs borg")
L.append("")
L.append("%s · `%s` · %s run(s), tool order alternating, %s restore(s) per tool per run. "
         "How to read this: [bench/README.md](../README.md)." % (
             meta["date"], meta["command"], meta["runs"], meta["restore_reps"]))
L.append("")
L.append("- **Machine:** %s, %s cores (%s), %s RAM, Linux %s, %s; disk: %s" % (
    meta["cpu"], meta["cores"], meta["cpu_flags"].strip(), meta["ram"], meta["kernel"], meta["os"], meta["disk"]))
other = sum(float(r["other_cpu_s"]) for r in rows if r["other_cpu_s"] not in ("", "NA"))
timed = sum(float(r["wall_s"]) for r in rows if r["wall_s"] not in ("", "NA"))
share = other / timed if timed else 0
L.append("- **Other load:** CPU time used by other processes during the timed steps: %.0f s over %.0f s "
         "of timed wall time (%.0f%% of one core)%s. Load average at the start: %s." % (
             other, timed, 100 * share,
             " — **the machine was busy with other work: figures are noisier and slower than on a quiet machine**"
             if share > 0.15 else "", meta["load_start"]))
L.append("- **Tools:** " + "; ".join(
    meta[k] for k in ("v_cairn", "v_restic", "v_borg") if k in meta and k[2:] in tools) +
    ("; " + meta["v_cp"] if has_cp else ""))
L.append("- **Settings:** cairn defaults (zstd level 1, XChaCha20-Poly1305); restic `init --repository-version 2` "
         "(compression auto); borg `init -e repokey-blake2`, `create --compression zstd,3`. "
         "All encrypted, each on a fresh repository on the same disk. Restores write into %s; "
         "every restore (and `cp -a`) is timed until `sync -f` of the target returns, as cairn "
         "syncs before it reports success." %
         meta.get("restore_target", "a folder on the bench disk"))
L.append("- **Corpus:** %s — %s. Mutation: %s; mutated tree %s." % (
    meta["corpus_corpus"], meta["corpus_pristine"],
    next(("%s (%s)" % (v, k[len("corpus_mutation "):].strip("()")) for k, v in meta.items()
          if k.startswith("corpus_mutation")), "?"),
    meta["corpus_mutated"]))
L.append("")

def table(title, unit, getter, with_ratio):
    L.append("### " + title)
    L.append("")
    head = ["step"] + tools + (["`cp -a` (source evicted)", "`cp -a` (source cached)"] if has_cp else [])
    if with_ratio and "cairn" in tools:
        head += ["%s ÷ cairn" % t for t in tools if t != "cairn"]
        if has_cp:
            head += ["cairn ÷ `cp -a` (evicted)", "cairn ÷ `cp -a` (cached)"]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "---|" * len(head))
    for step, label in steps:
        data = {t: getter(t, step) for t in tools}
        if not any(data.values()) and not any(nfail(t, step) for t in tools):
            if not (step == "restore" and has_cp):
                continue
        row = [label] + [cell(data[t], unit, nfail(t, step)) for t in tools]
        is_r = step == "restore"
        cpd = [getter("cp", "restore"), getter("cp", "restore-cached")] if is_r else [[], []]
        if has_cp:
            row += [cell(x, unit, nfail("cp", st)) if is_r else ""
                    for x, st in zip(cpd, ["restore", "restore-cached"])]
        if with_ratio and "cairn" in tools:
            row += [ratio(data[t], data["cairn"]) for t in tools if t != "cairn"]
            if has_cp:
                row += [ratio(data["cairn"], x) if is_r else "" for x in cpd]
        L.append("| " + " | ".join(row) + " |")
    L.append("")

table("Wall time, seconds — median (min–max)", "s", lambda t, s: vals(t, s, "wall_s"), True)
table("CPU time (user + system), seconds — median (min–max)", "s", cpu, True)
table("Peak RSS, MiB — median (min–max)", "MiB",
      lambda t, s: [x / 1024 for x in vals(t, s, "maxrss_kib")], False)

L.append("### Repository size, MiB, after each step — median (min–max)")
L.append("")
others = [t for t in tools if t != "cairn"] if "cairn" in tools else []
head = ["after"] + tools + ["%s ÷ cairn" % t for t in others]
L.append("| " + " | ".join(head) + " |")
L.append("|" + "---|" * len(head))
for step, label in steps[:4]:
    data = {t: [x / 2**20 for x in vals(t, step, "repo_bytes")] for t in tools}
    if not any(data.values()):
        continue
    row = [label] + [cell(data[t], "MiB") for t in tools]
    if "cairn" in tools:
        row += [ratio(data[t], data["cairn"]) if step != "init" else "" for t in tools if t != "cairn"]
    L.append("| " + " | ".join(row) + " |")
last = [s for s, _ in steps[:4] if any(vals(t, s, "cache_bytes") for t in tools)]
if last:
    s = last[-1]
    row = ["*local cache/catalog (HOME) after %s*" % dict(steps)[s]]
    row += [cell([x / 2**20 for x in vals(t, s, "cache_bytes")], "MiB") for t in tools]
    row += [""] * len(others)
    L.append("| " + " | ".join(row) + " |")
L.append("")

L.append("### Restore verification (`diff -r` content + mode, owner, size, mtime in ns, link target of every entry)")
L.append("")
for t in tools + (["cp"] if has_cp else []):
    vs = [r["verified"] for r in rows if r["tool"] == t and r["step"].startswith("restore")]
    if not vs:
        continue
    ok = sum(1 for v in vs if v == "ok")
    others = sorted(set(v for v in vs if v != "ok"))
    name = "`cp -a`" if t == "cp" else t
    if ok == len(vs):
        L.append("- %s: %d/%d restores identical" % (name, ok, len(vs)))
    else:
        mark = "**NOT IDENTICAL**" if any(v.startswith("FAILED") for v in others) else "content identical"
        L.append("- %s: %d/%d restores identical; the others %s — %s" % (name, ok, len(vs), mark, "; ".join(others)))
L.append("")
fails = [r for r in rows if r["exit"] != "0"]
if fails:
    L.append("### ⚠ Failed steps")
    L.append("")
    for r in fails:
        L.append("- run %s: %s %s exited %s" % (r["run"], r["tool"], r["step"], r["exit"]))
    L.append("")
L.append("Raw per-run numbers: [%s](%s). Ratios are of medians; above 1× means cairn is faster (or smaller)." % (raw_name, raw_name))
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
