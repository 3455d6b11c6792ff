# Helpers shared by bench/run_bench.sh, bench/run_azure_bench.sh and bench/run_prune_bench.sh
# (sourced, not run).
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

# verify SRC DST LOG -> "ok", or what differs. Content: diff -r (no dereference); metadata: type,
# mode, owner, size, mtime (ns) and link target of every entry.
verify() {
  local src="$1" dst="$2" log="$3" res
  if [[ ! -d "$dst" ]]; then echo "FAILED: nothing restored at $dst"; return; fi
  if ! diff -r --no-dereference -q "$src" "$dst" >"$log" 2>&1; then
    echo "FAILED: content differs ($(wc -l <"$log") entries, see $log)"
    return
  fi
  res="$(python3 - "$src" "$dst" 2>>"$log" <<'EOF'
import os, stat, sys, collections
src, dst = sys.argv[1], sys.argv[2]
bad = collections.Counter()
def entries(root):
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            yield os.path.relpath(os.path.join(d, n), root)
for rel in entries(src):
    a = os.lstat(os.path.join(src, rel))
    try:
        b = os.lstat(os.path.join(dst, rel))
    except OSError:
        bad["missing"] += 1; continue
    kind = "dir" if stat.S_ISDIR(a.st_mode) else "link" if stat.S_ISLNK(a.st_mode) else "file"
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode): bad["type"] += 1; continue
    if stat.S_IMODE(a.st_mode) != stat.S_IMODE(b.st_mode) and kind != "link": bad["mode(%s)" % kind] += 1
    if (a.st_uid, a.st_gid) != (b.st_uid, b.st_gid): bad["owner(%s)" % kind] += 1
    if kind == "file" and a.st_size != b.st_size: bad["size"] += 1
    if a.st_mtime_ns != b.st_mtime_ns: bad["mtime(%s)" % kind] += 1
    if kind == "link" and os.readlink(os.path.join(src, rel)) != os.readlink(os.path.join(dst, rel)):
        bad["link target"] += 1
for rel in entries(dst):
    if not os.path.lexists(os.path.join(src, rel)):
        bad["extra"] += 1
print("ok" if not bad else "metadata differs: " + ", ".join("%s %d" % kv for kv in sorted(bad.items())))
EOF
)" || res="FAILED: metadata comparison crashed (see $log)"
  echo "$res"
}
