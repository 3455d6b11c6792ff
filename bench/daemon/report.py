#!/usr/bin/env python3
"""The tables of bench/run_daemon_bench.sh: bench/results/daemon.md from the raw lines."""
import argparse
import os
import statistics


def main():
    ap = argparse.ArgumentParser()
    # Repeated: a later run's figures replace an earlier one's (per figure and tree); the
    # header names every run.
    ap.add_argument("--raw", required=True, action="append")
    ap.add_argument("--meta", required=True, action="append")
    ap.add_argument("--load", required=True, action="append")
    ap.add_argument("--samples", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    meta, reruns = {}, []
    for i, path in enumerate(a.meta):
        m = {}
        for line in open(path):
            k, _, v = line.rstrip("\n").partition("=")
            m[k] = v
        if i == 0:
            meta = m
        else:
            reruns.append(m)
            meta.update({k: v for k, v in m.items() if k.startswith("step_")})
    raw = {}
    for path in a.raw:
        these = {}
        for line in open(path):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            fig, case, measure, value = parts
            these.setdefault((fig, case), {})[measure] = value
        raw.update(these)
    loads = []
    for path in a.load:
        for line in open(path):
            p = line.split()
            if len(p) >= 2:
                loads.append((int(p[0]), float(p[1])))
    loads.sort()

    def load_in(start_key, end_key):
        s, e = meta.get(start_key), meta.get(end_key)
        if s is None or e is None:
            return ""
        xs = [l for t, l in loads if int(s) <= t <= int(e) + 5]
        if not xs:
            return ""
        return "%.1f (max %.1f)" % (statistics.mean(xs), max(xs))

    def g(fig, case, measure, default=None):
        v = raw.get((fig, case), {}).get(measure)
        if v is None:
            return default
        try:
            return float(v)
        except ValueError:
            return v

    def fmt(x, nd=0, unit=""):
        if x is None:
            return "–"
        if isinstance(x, str):
            return x
        return ("{:,.%df}" % nd).format(x) + unit

    quick = meta.get("quick") == "1"
    tree, files, folders = meta["tree"], meta["files"], meta["folders"]
    tree_label = {"kernel": "kernel corpus (78,581 files)",
                  "quick": "drivers/net (5,695 files)"}.get(tree, tree)
    files_label = {"files1m": "1,000,000 small files", "files10k": "10,000 small files"}.get(files, files)
    L = []
    L.append("# `cairn run`: the figures of issue 11" + (" (quick version)" if quick else ""))
    L.append("")
    L.append("%s · `%s` · how it is measured: [bench/README.md](../README.md#daemon-benchmark)." % (
        meta["date"], meta["command"]))
    for m in reruns:
        L.append("Re-run %s: `%s` (%s); the figures it ran replace the first run's." % (
            m["date"], m["command"], m.get("cairn", "")))
    if os.path.exists(os.path.join(os.path.dirname(a.out), "daemon-analysis.md")):
        L.append("Why the figures are what they are, and what misses its target: "
                 "[daemon-analysis.md](daemon-analysis.md).")
    L.append("")
    L.append("- **Machine:** %s, %s cores, %s RAM, Linux %s, %s; disk: %s" % (
        meta["cpu"], meta["cores"], meta["ram"], meta["kernel"], meta["os"], meta["disk"]))
    all_loads = [l for _, l in loads]
    if all_loads:
        L.append("- **Load average (1 min) while the figures ran:** mean %.1f, min %.1f, max %.1f "
                 "(sampled every 5 s; per figure below)%s." % (
                     statistics.mean(all_loads), min(all_loads), max(all_loads),
                     " — **the machine was busy with other work: wall times are slower and noisier "
                     "than on a quiet machine**" if statistics.mean(all_loads) > 1.0 else ""))
    L.append("- **cairn:** %s" % meta["cairn"])
    L.append("- **inotify watch limit:** %s" % "; ".join(
        (("%s: " % m["date"]) if reruns else "") + m.get("watch_limit", "?") for m in [meta] + reruns))
    L.append("- **Raw numbers:** %s%s; logs in the bench dir's `daemon/logs/`." % (
        ", ".join("[%s](%s)" % (m["raw"], m["raw"]) for m in [meta] + reruns),
        ", per change: [%s](%s)" % (os.path.basename(a.samples), os.path.basename(a.samples))
        if a.samples and os.path.exists(a.samples) else ""))
    L.append("")

    def ok(cond):
        return "✅ met" if cond else "❌ **missed**"

    # --- latency
    c = ("latency", tree)
    if c in raw:
        L.append("## Latency from a change to its durable version")
        L.append("")
        L.append("In-process daemon (`daemon_bench latency`) watching the %s, with its repository on "
                 "the same disk; `stability_seconds: 1`; one file appended every %s ms, each change "
                 "to another file; latency = from the write's return to the end of the run whose "
                 "batch named the file (`Hooks::on_run`, after `Session::Backup` returned). "
                 "Load: %s." % (tree_label, fmt(g(*c, "interval_ms")), load_in("step_latency-start", "step_latency-end")))
        L.append("")
        L.append("| changes | p50 | p90 | p99 | max | target (p99 ≤ stability + 1 s = 2 s) |")
        L.append("|---|---|---|---|---|---|")
        p99 = g(*c, "p99_s")
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            fmt(g(*c, "changes")), fmt(g(*c, "p50_s"), 3, " s"), fmt(g(*c, "p90_s"), 3, " s"),
            fmt(p99, 3, " s"), fmt(g(*c, "max_s"), 3, " s"),
            ok(p99 is not None and p99 <= 2.0 and g(*c, "never_backed_up", 1) == 0)))
        L.append("")
        L.append("%s runs (%s paths per batch on average), %s changes never backed up, %s failed runs. "
                 "Backup run time p50 %s, p99 %s; the daemon process's CPU %s per change." % (
                     fmt(g(*c, "runs")), fmt(g(*c, "batch_paths_mean"), 2), fmt(g(*c, "never_backed_up")),
                     fmt(g(*c, "failed_runs")), fmt(1000 * (g(*c, "run_p50_s") or 0), 0, " ms"),
                     fmt(1000 * (g(*c, "run_p99_s") or 0), 0, " ms"), fmt(g(*c, "cpu_ms_per_change"), 1, " ms")))
        L.append("")

    # --- batch
    cases = [(t, lbl) for t, lbl in [("files100", "100 small files"), (tree, tree_label),
                                     (files, files_label),
                                     (tree + "-default-malloc", "diagnostic: %s, with glibc's default "
                                      "mmap threshold instead of cairn's (not what `cairn run` does)" % tree_label)]
             if ("batch", t) in raw]
    if cases:
        L.append("## Cost of one batch of 3 changed files")
        L.append("")
        L.append("In-process daemon (`daemon_bench batch`) watching the tree its repository holds; 3 "
                 "files appended at once, %s times (each batch waits for the previous to be over, then 0.3 s); CPU = the whole process's CPU time from the writes "
                 "until the run that covered them is over and the persisted queue is empty again "
                 "(inotify events, the persisted queue, the debounce, `Session::Backup`: lock, index "
                 "refresh, catalog, archive, checkpoint). Target: ≤ 50 ms, independent of the "
                 "repository's size." % fmt(g("batch", cases[0][0], "batches")))
        L.append("")
        L.append("| repository holds | CPU p50 | CPU p95 | CPU max | CPU mean | first 2 batches after the start | batches in one run: CPU p50 / p95 (how many) | backup wall p50 / p95 | runs per batch | daemon start (catch-up pass, wall / CPU) | load | target (≤ 50 ms CPU) |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for t, lbl in cases:
            c = ("batch", t)
            p50, p95 = g(*c, "cpu_ms_p50"), g(*c, "cpu_ms_p95")
            L.append("| %s | %s | %s | %s | %s | %s | %s / %s (%s) | %s / %s | %s | %s / %s | %s | %s |" % (
                lbl, fmt(p50, 1, " ms"), fmt(p95, 1, " ms"), fmt(g(*c, "cpu_ms_max"), 1, " ms"),
                fmt(g(*c, "cpu_ms_mean"), 1, " ms"),
                ", ".join(fmt(g(*c, "first_cpu_ms.%d" % i), 0, " ms") for i in (1, 2)),
                fmt(g(*c, "single_run_cpu_ms_p50"), 1, " ms"), fmt(g(*c, "single_run_cpu_ms_p95"), 1, " ms"),
                fmt(g(*c, "single_run_batches")),
                fmt(g(*c, "backup_wall_ms_p50"), 0, " ms"), fmt(g(*c, "backup_wall_ms_p95"), 0, " ms"),
                fmt(g(*c, "runs_per_batch_mean"), 2), fmt(g(*c, "catch_up_wall_s"), 1, " s"),
                fmt(g(*c, "catch_up_cpu_s"), 1, " s"),
                load_in("step_batch-%s-start" % t, "step_batch-%s-end" % t),
                "(diagnostic)" if t.endswith("-default-malloc") else
                ok(p95 is not None and p95 <= 50) + " (p95)"))
        L.append("")
        L.append("p50, p95, max and mean are over the batches after the first two (%s); the first two "
                 "batches after a start are given apart (a warm-up: caches, the catalog's pages). The daemon does not always back up the 3 changes "
                 "in one run: when their events reach it a moment apart, the first path falls due alone "
                 "and the other two in a second run (runs per batch > 1; see the analysis); \"batches in "
                 "one run\" is the cost of one run, over the batches that took one." % fmt(g("batch", cases[0][0], "steady_batches")))
        L.append("")

    # --- month
    c = ("month", tree)
    if c in raw:
        n = fmt(g(*c, "batches"))
        L.append("## After a month of batches (%s backups of 3 changed files)" % n)
        L.append("")
        L.append("`daemon_bench month` on a copy of the %s's repository: %s backups of 3 changed "
                 "files (600 files in 3 folders, each rewritten again and again) in one open session, "
                 "no compaction (the worst case: the daemon compacts every 6 h), then the figures; then "
                 "one `Session::Compact` and the figures again. Every time is a fresh session, as a new "
                 "process would be (cheap key derivation: the key costs nothing here). Load: %s." % (
                     tree_label, n, load_in("step_month-start", "step_month-end")))
        L.append("")
        L.append("| | start: the repository of the %s | after %s batches | after compaction |" % (tree_label, n))
        L.append("|---|---|---|---|")

        def row(label, measure, nd=0, unit="", scale=1.0):
            vals = []
            for ph in ("start", "before", "after"):
                v = g(*c, "%s.%s" % (ph, measure))
                vals.append(fmt(v * scale if isinstance(v, float) else v, nd, unit))
            L.append("| %s | %s |" % (label, " | ".join(vals)))

        row("objects in the repository", "objects")
        row("… packs (`data/`)", "objects.data")
        row("… index objects", "objects.index")
        row("… version segments", "objects.versions")
        row("open (config and key)", "open_s", 1, " ms", 1000)
        row("open + `stats` (index loaded, catalog brought up to date)", "open_and_stats_s", 0, " ms", 1000)
        row("a backup of 3 files from a fresh session (a daemon's restart)", "backup_3_files_s", 0, " ms", 1000)
        row("`ls` of a folder of the edited files", "ls_docs_s", 0, " ms", 1000)
        row("`ls -R` of the whole tree", "ls_r_tree_s", 0, " ms", 1000)
        row("… entries listed", "ls_r_tree_entries")
        row("`recover` (the catalog rebuilt from the segments)", "recover_s", 2, " s")
        row("… CPU", "recover_cpu_s", 2, " s")
        row("… segments read", "recover_segments")
        L.append("")
        buckets = sorted({int(k.split(".")[1]) for k in raw[c] if k.startswith("backup_ms.")})
        if buckets:
            L.append("The compaction: %s (CPU %s), %s packs, %s index objects and %s segments merged, %s "
                     "objects deleted. Backups during the month (wall time, ms): %s." % (
                         fmt(g(*c, "compact_s"), 1, " s"), fmt(g(*c, "compact_cpu_s"), 1, " s"),
                         fmt(g(*c, "compact.packs_merged")), fmt(g(*c, "compact.index_rewritten")),
                         fmt(g(*c, "compact.segments_merged")), fmt(g(*c, "compact.objects_deleted")),
                         ", ".join("to %s: mean %s, p95 %s" % (
                             "{:,}".format(b), fmt(g(*c, "backup_ms.%d.mean" % b), 0),
                             fmt(g(*c, "backup_ms.%d.p95" % b), 0)) for b in buckets)))
            L.append("")

    # --- watch
    cases = [t for t in (tree, folders) if ("watch", t) in raw]
    if cases:
        L.append("## Setting up the watches")
        L.append("")
        L.append("`daemon_bench watch`: `InotifyWatcher::AddRoot` of the tree (it counts the folders, "
                 "then adds a watch to each and lists it), %s times in one process, the tree's metadata "
                 "warm in the page cache. Memory: the heap the watcher holds (glibc `mallinfo2`, so "
                 "freed memory reused by later repetitions does not hide it) and the process's RSS growth "
                 "at the first repetition; the kernel's: inotify marks and mark connectors "
                 "(`/sys/kernel/slab`: objects × size). Each watch also pins its folder's inode in the "
                 "inode cache (~1.1 KiB on ext4), which is not counted." % fmt(g("watch", cases[0], "reps")))
        L.append("")
        L.append("| tree | folders watched | time, median (min–max) | CPU user / system | watcher heap | RSS growth | kernel (marks) | load |")
        L.append("|---|---|---|---|---|---|---|---|")
        for t in cases:
            c = ("watch", t)
            lbl = {"kernel": "kernel corpus", "quick": "drivers/net", "folders100k": "100,000 empty folders",
                   "folders10k": "10,000 empty folders"}.get(t, t)
            L.append("| %s | %s | %s (%s–%s) | %s / %s | %s | %s | %s | %s |" % (
                lbl, fmt(g(*c, "watches")), fmt(g(*c, "add_root_s_median"), 2, " s"),
                fmt(g(*c, "add_root_s_min"), 2), fmt(g(*c, "add_root_s_max"), 2),
                fmt(g(*c, "user_s_median"), 2, " s"), fmt(g(*c, "sys_s_median"), 2, " s"),
                fmt(g(*c, "heap_growth_mib_median"), 1, " MiB"), fmt(g(*c, "rss_growth_mib_first"), 1, " MiB"),
                fmt((g(*c, "kernel_marks_kib_median") or 0) / 1024, 1, " MiB") if g(*c, "kernel_marks_kib_median") is not None else "–",
                load_in("step_watch-%s-start" % t, "step_watch-%s-end" % t)))
        L.append("")

    # --- the real process
    c = ("run", tree)
    if c in raw:
        load = load_in("step_run-start", "step_run-end")
        L.append("## The real `cairn run`: idle CPU and memory")
        L.append("")
        L.append("`probe_run.py`: `cairn init` (a new repository, the default key derivation), then "
                 "`cairn run` of the %s as its own process; from `/proc/PID`: `VmHWM` (the peak RSS, "
                 "reset with `clear_refs` between the phases: %s), `utime + stime` and context switches "
                 "of all threads. Load: %s." % (tree_label, g(*c, "hwm_reset"), load))
        L.append("")
        idle = g(*c, "idle_cpu_s")
        L.append("| idle: %s s with nothing changing | CPU | share of one core | context switches | RSS | target (≈ 0) |" % fmt(g(*c, "idle_s"), 0))
        L.append("|---|---|---|---|---|---|")
        L.append("| after the catch-up pass | %s | %s | %s | %s | %s |" % (
            fmt(idle, 2, " s"), fmt(g(*c, "idle_cpu_pct"), 3, " %"), fmt(g(*c, "idle_context_switches")),
            fmt(g(*c, "rss_idle_mib"), 1, " MiB"), ok(idle is not None and idle <= 0.1)))
        L.append("")
        L.append("| memory (`VmHWM`) | peak | target (≤ 100 MiB) |")
        L.append("|---|---|---|")
        po = g(*c, "peak_rss_open_mib")
        pc = g(*c, "peak_rss_catch_up_mib")
        ps = g(*c, "peak_rss_steady_mib")
        L.append("| start: repository opened (key derivation), watches added (%s s) | %s | %s |" % (
            fmt(g(*c, "start_to_watching_s"), 1), fmt(po, 1, " MiB"), ok(po is not None and po <= 100)))
        L.append("| catch-up pass = first backup of the tree (%s s, CPU %s s) | %s | %s |" % (
            fmt(g(*c, "catch_up_s"), 1), fmt(g(*c, "catch_up_cpu_s"), 1), fmt(pc, 1, " MiB"),
            ok(pc is not None and pc <= 100)))
        L.append("| steady state: idle, then %s changes (one every 100 ms, %s batches) | %s | %s |" % (
            fmt(g(*c, "changes")), fmt(g(*c, "change_batches")), fmt(ps, 1, " MiB"),
            ok(ps is not None and ps <= 100)))
        L.append("")
        L.append("RSS after the catch-up pass %s, when idle %s, after the changes %s; CPU for the %s "
                 "changes %s (%s per batch); %s threads; `%s`; stopped by SIGTERM in %s s, exit status %s; %s error lines." % (
                     fmt(g(*c, "rss_after_catch_up_mib"), 1, " MiB"), fmt(g(*c, "rss_idle_mib"), 1, " MiB"),
                     fmt(g(*c, "rss_steady_mib"), 1, " MiB"), fmt(g(*c, "changes")),
                     fmt(g(*c, "changes_cpu_s"), 2, " s"),
                     fmt(1000 * g(*c, "changes_cpu_s", 0) / max(1, g(*c, "change_batches", 1)), 0, " ms"),
                     fmt(g(*c, "threads_after_catch_up")),
                     g(*c, "catch_up_line"), fmt(g(*c, "stop_s"), 2), fmt(g(*c, "exit_status")),
                     fmt(g(*c, "error_lines"))))
        L.append("")

    L.append("## Commands")
    L.append("")
    L.append("```sh")
    L.append(meta["command"])
    L.append("# which runs, with DD=<bench dir>/daemon (trees, repositories and homes cached there):")
    L.append("daemon_bench watch --tree DD/%s/tree --reps 3; daemon_bench watch --tree DD/%s/tree --reps 3" % (tree, folders))
    L.append("daemon_bench latency --home DD/%s/home --repo DD/%s/repo --tree DD/%s/tree --changes N --interval-ms 100" % (tree, tree, tree))
    L.append("daemon_bench batch --home DD/T/home --repo DD/T/repo --tree DD/T/tree --batches N   # T = files100, %s, %s" % (tree, files))
    L.append("daemon_bench month --home DD/work/month/home --repo DD/work/month/repo --docs DD/work/month/docs --batches N --compact-every 0 --ls-tree DD/%s/tree" % tree)
    L.append("probe_run.py --cairn build-rel/cmd/cairn/cairn --home DD/work/run/home --repo DD/work/run/repo --tree DD/%s/tree --idle S --changes N" % tree)
    L.append("```")
    L.append("")
    open(a.out, "w").write("\n".join(L))


if __name__ == "__main__":
    main()
