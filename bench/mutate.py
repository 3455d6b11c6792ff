#!/usr/bin/env python3
"""Deterministic mutation that looks like real work: about 1% of the files are
edited (bytes inserted in the middle, appended, or rewritten), a few are added
and a few deleted. Usage: mutate.py TREE [SEED [PERCENT [SET_SEED]]]: PERCENT of the
files edited (default 1; run_prune_bench.sh uses 2), chosen at random by SEED, or with SET_SEED
always the same ones (a working set: each file whose path hashes with SET_SEED below PERCENT),
each edit then naming SEED so that repeated rounds change them again. Prints what it did."""
import hashlib
import os
import random
import sys


def main():
    root = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = random.Random(seed)
    percent = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    set_seed = int(sys.argv[4]) if len(sys.argv) > 4 else None
    files = []
    for d, dirs, names in os.walk(root):
        dirs.sort()
        for n in sorted(names):
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files.append(p)
    if set_seed is None:
        # len // 100 exactly for the default, so the benchmark's mutated corpus stays as it was
        k = max(1, len(files) // 100 if percent == 1.0 else int(len(files) * percent / 100))
        chosen = rng.sample(files, k + 20)
    else:
        def in_set(p):
            h = hashlib.sha256(b"%d:%s" % (set_seed, os.fsencode(os.path.relpath(p, root)))).digest()
            return int.from_bytes(h[:8], "big") < percent / 100 * 2**64
        edited = [p for p in files if in_set(p)]
        k = len(edited)
        chosen = edited + rng.sample([p for p in files if not in_set(p)], 20)
    edited, deleted, added = chosen[:k], chosen[k:k + 10], 0
    for i, p in enumerate(edited):
        with open(p, "rb") as f:
            data = f.read()
        kind = i % 3
        text = "/* cairn bench edit %d */\n" % i if set_seed is None else \
            "/* cairn bench edit %d, seed %d */\n" % (i, seed)
        blob = text.encode() * (1 + i % 5)
        if kind == 0:  # insert in the middle
            mid = len(data) // 2
            data = data[:mid] + blob + data[mid:]
        elif kind == 1:  # append
            data = data + blob
        else:  # rewrite a region in place
            pos = len(data) // 3
            data = data[:pos] + blob + data[pos + len(blob):]
        with open(p, "wb") as f:
            f.write(data)
    for p in deleted:
        os.remove(p)
    for i, p in enumerate(chosen[k + 10:k + 20]):
        with open(p + ".added-%d" % i, "wb") as f:
            f.write(rng.randbytes(1000 + 5000 * i))
        added += 1
    print("edited %d, deleted %d, added %d of %d files" % (len(edited), len(deleted), added, len(files)))


if __name__ == "__main__":
    main()
