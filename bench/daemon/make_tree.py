#!/usr/bin/env python3
"""Synthetic trees for bench/run_daemon_bench.sh.

  make_tree.py files DIR --folders 1000 --per-folder 1000
      DIR/dNNNN/fNNNN.txt: folders x per-folder small text files of 200-600
      bytes, every one different (so deduplication does not fold them).
  make_tree.py folders DIR --top 100 --per-folder 1000
      DIR/tNNN/dNNNN/: top x per-folder empty leaf folders (plus the top
      folders and DIR itself).

Deterministic (fixed seed), written into DIR.partial and renamed to DIR at
the end, so an interrupted run leaves nothing that looks finished.
"""
import argparse
import os
import random
import shutil
import sys

WORDS = ("backup version chunk pack index segment catalog daemon watch folder file "
         "repository snapshot restore change batch queue stable delay compact").split()


def make_files(dest, folders, per_folder):
    rnd = random.Random(11)
    for d in range(folders):
        sub = os.path.join(dest, "d%04d" % d)
        os.mkdir(sub)
        for f in range(per_folder):
            n = rnd.randint(200, 600)
            words = []
            size = 0
            while size < n:
                w = rnd.choice(WORDS)
                words.append(w)
                size += len(w) + 1
            text = ("%d/%d " % (d, f) + " ".join(words))[:n] + "\n"
            with open(os.path.join(sub, "f%04d.txt" % f), "w") as fh:
                fh.write(text)
        if d % 100 == 99:
            print("  %d/%d folders" % (d + 1, folders), file=sys.stderr, flush=True)


def make_folders(dest, top, per_folder):
    for t in range(top):
        sub = os.path.join(dest, "t%03d" % t)
        os.mkdir(sub)
        for d in range(per_folder):
            os.mkdir(os.path.join(sub, "d%04d" % d))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["files", "folders"])
    ap.add_argument("dir")
    ap.add_argument("--folders", type=int, default=1000)
    ap.add_argument("--top", type=int, default=100)
    ap.add_argument("--per-folder", type=int, default=1000)
    a = ap.parse_args()
    if os.path.exists(a.dir):
        print("%s exists: kept" % a.dir, file=sys.stderr)
        return
    partial = a.dir + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    if a.kind == "files":
        make_files(partial, a.folders, a.per_folder)
    else:
        make_folders(partial, a.top, a.per_folder)
    os.rename(partial, a.dir)


if __name__ == "__main__":
    main()
