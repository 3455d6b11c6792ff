# Helpers shared by bench/run_bench.sh and bench/run_azure_bench.sh (sourced, not run).
# Fairness and accounting: what every timed step of both benchmarks relies on.

warm() {  # DIR: every file of it in the page cache
  find "$1" -type f -print0 | xargs -0 -r cat >/dev/null
}

evict() {  # DIR...: write back, then drop every file of DIR from the page cache
  sync
  python3 - "$@" <<'PY'
import os, sys
for root in sys.argv[1:]:
    for d, dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
PY
}

CLK_TCK="$(getconf CLK_TCK)"
busy_ticks() {  # CPU ticks spent on anything but idle and iowait, all CPUs
  local _c u n s i w irq sirq st _rest
  read -r _c u n s i w irq sirq st _rest </proc/stat
  echo $((u + n + s + irq + sirq + st))
}

du_bytes() { if [[ -e "$1" ]]; then du -sb "$1" | cut -f1; else echo 0; fi; }
