#!/usr/bin/env python3
"""The real `cairn run` process, watched from outside (bench/run_daemon_bench.sh).

  probe_run.py --cairn BIN --home H --repo R --tree T [--idle 60] [--changes 100]
               [--raw FILE] [--case NAME]

Makes a new repository at R (`cairn init`, the default key derivation), then
starts `cairn run T` with H as its home and reads, from /proc/PID:
  - VmHWM when it logs "watching" (the repository opened, the key derived, the
    watches added), then resets the high-water mark (clear_refs 5, root only);
  - VmHWM when it logs its catch-up pass (the first backup of T): the peak of
    the pass; then resets it again;
  - utime + stime (/proc/PID/stat) and context switches of all its threads
    over IDLE seconds of nothing changing (after 5 s of settling);
  - VmHWM after CHANGES appends to files of T (one every 100 ms) and their
    batches: the steady-state peak; then SIGTERM and the exit status.
Figures go to --raw as "figure<TAB>case<TAB>measure<TAB>value" lines.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the command: state is field 3, utime 14 and stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def switches(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if "ctxt_switches" in line:
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def reset_hwm(pid):
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cairn", required=True)
    ap.add_argument("--home", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--idle", type=float, default=60)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--raw", default="")
    ap.add_argument("--case", default="tree")
    ap.add_argument("--log", default="")
    a = ap.parse_args()

    def put(measure, value):
        print("  run [%s] %s = %s" % (a.case, measure, value), file=sys.stderr, flush=True)
        if a.raw:
            with open(a.raw, "a") as f:
                f.write("run\t%s\t%s\t%s\n" % (a.case, measure, value))

    shutil.rmtree(a.home, ignore_errors=True)
    shutil.rmtree(a.repo, ignore_errors=True)
    os.makedirs(a.home)
    settings = os.path.join(a.home, "settings.yaml")
    with open(settings, "w") as f:
        f.write("backup:\n  stability_seconds: 1\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": a.home,
        "XDG_CACHE_HOME": a.home + "/cache",
        "XDG_CONFIG_HOME": a.home + "/config",
        "XDG_DATA_HOME": a.home + "/data",
        "XDG_STATE_HOME": a.home + "/state",
        "CAIRN_PASSWORD": "bench",
        "TMPDIR": a.home,
    }
    base = [a.cairn, "-r", a.repo, "--config", settings, "--device", "bench"]
    t0 = time.monotonic()
    subprocess.run(base + ["init"], env=env, check=True, stdout=subprocess.DEVNULL)
    put("init_s", "%.2f" % (time.monotonic() - t0))

    log = open(a.log or os.path.join(a.home, "run.log"), "w")
    proc = subprocess.Popen(base + ["run", a.tree], env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.PIPE, text=True)
    pid = proc.pid
    lines = []  # (monotonic time, line)
    cond = threading.Condition()

    def reader():
        for line in proc.stderr:
            log.write(line)
            log.flush()
            with cond:
                lines.append((time.monotonic(), line.rstrip("\n")))
                cond.notify_all()
        with cond:
            cond.notify_all()

    threading.Thread(target=reader, daemon=True).start()

    def wait_line(pred, timeout):
        end = time.monotonic() + timeout
        with cond:
            while True:
                for t, l in lines:
                    if pred(l):
                        return t, l
                left = end - time.monotonic()
                if left <= 0 or proc.poll() is not None:
                    return None, None
                cond.wait(min(left, 0.02))

    start = time.monotonic()
    t_watch, _ = wait_line(lambda l: "] watching " in l, 120)
    if t_watch is None:
        print("probe_run: cairn run never said it was watching", file=sys.stderr)
        proc.kill()
        return 1
    put("start_to_watching_s", "%.2f" % (t_watch - start))
    put("peak_rss_open_mib", "%.1f" % (status_kib(pid, "VmHWM") / 1024))
    can_reset = reset_hwm(pid)
    put("hwm_reset", "yes" if can_reset else "no (not root: peaks include earlier phases)")
    cpu_watch = cpu_seconds(pid)

    # The catch-up pass: a first backup of the tree. Sample RSS meanwhile.
    samples = []
    t_done = None
    while True:
        t_done, line = wait_line(lambda l: "] catch-up: " in l, 0.1)
        if t_done is not None:
            break
        if proc.poll() is not None:
            print("probe_run: cairn run exited during the catch-up pass", file=sys.stderr)
            return 1
        samples.append(status_kib(pid, "VmRSS"))
        if time.monotonic() - t_watch > 3600:
            proc.kill()
            return 1
    put("catch_up_line", line.replace("\t", " "))
    put("catch_up_s", "%.2f" % (t_done - t_watch))
    put("catch_up_cpu_s", "%.2f" % (cpu_seconds(pid) - cpu_watch))
    put("peak_rss_catch_up_mib", "%.1f" % (status_kib(pid, "VmHWM") / 1024))
    put("rss_after_catch_up_mib", "%.1f" % (status_kib(pid, "VmRSS") / 1024))
    if samples:
        put("rss_catch_up_sampled_max_mib", "%.1f" % (max(samples) / 1024))
    put("threads_after_catch_up", threads(pid))

    # Idle: nothing changes under the tree.
    time.sleep(5)
    reset_hwm(pid)
    c0, s0, w0 = cpu_seconds(pid), switches(pid), time.monotonic()
    time.sleep(a.idle)
    c1, s1, w1 = cpu_seconds(pid), switches(pid), time.monotonic()
    put("idle_s", "%.1f" % (w1 - w0))
    put("idle_cpu_s", "%.2f" % (c1 - c0))
    put("idle_cpu_pct", "%.3f" % (100 * (c1 - c0) / (w1 - w0)))
    put("idle_context_switches", s1 - s0)
    put("rss_idle_mib", "%.1f" % (status_kib(pid, "VmRSS") / 1024))
    put("peak_rss_idle_mib", "%.1f" % (status_kib(pid, "VmHWM") / 1024))

    # Steady state: changes, one every 100 ms, each to another file.
    files = []
    for d, dirs, names in os.walk(a.tree):
        dirs.sort()
        for n in sorted(names):
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) < 256 * 1024:
                files.append(p)
    step = max(1, len(files) // max(1, a.changes))
    picked = files[::step][: a.changes]
    n_batches_before = sum(1 for _, l in lines if "] batch: " in l)
    c0, w0 = cpu_seconds(pid), time.monotonic()
    for i, p in enumerate(picked):
        time.sleep(max(0, w0 + 0.1 * i - time.monotonic()))
        with open(p, "a") as f:
            f.write("/* cairn run probe: change %d */\n" % i)
    # Every change backed up: the log's batches name no paths, so wait
    # until a batch line has been quiet for 3 s.
    deadline = time.monotonic() + 60
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = sum(1 for _, l in lines if "] batch: " in l)
        if n != last_count:
            last_count, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > 3 and n > n_batches_before:
            break
        time.sleep(0.1)
    c1, w1 = cpu_seconds(pid), time.monotonic()
    put("changes", len(picked))
    put("change_batches", last_count - n_batches_before)
    put("changes_cpu_s", "%.2f" % (c1 - c0))
    put("peak_rss_steady_mib", "%.1f" % (status_kib(pid, "VmHWM") / 1024))
    put("rss_steady_mib", "%.1f" % (status_kib(pid, "VmRSS") / 1024))
    failed = sum(1 for _, l in lines if "failed" in l or "error:" in l)
    put("error_lines", failed)

    t_stop = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "killed after 60 s"
    put("stop_s", "%.2f" % (time.monotonic() - t_stop))
    put("exit_status", rc)
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
