#!/usr/bin/env bash
# Builds the benchmark corpus once into $CAIRN_BENCH_DIR (default /work/bench-cache) and reuses it.
#
#   bench/prepare_corpus.sh [--bench-dir DIR] [--seed N]
#
# Layout it leaves (nothing is written outside the bench dir; no package is installed):
#   debs/                       the .deb files from `apt-get download linux-source-6.1 libllvm14`
#   pkg/<name>/                 each .deb extracted with `dpkg-deb -x`
#   corpus/full/pristine/       linux-source-6.1/ (the kernel tree) + large/ (the package's own
#                               linux-source-6.1.tar.xz, incompressible; libLLVM-14.so.1)
#   corpus/full/mutated/        the same after bench/mutate.py with the fixed seed
#   corpus/quick/{pristine,mutated}/  a small subset (linux-source-6.1/drivers/net) for --quick
#   corpus/*/info               what the corpus is (files, bytes, package versions, mutation)
# A corpus is complete when its `info` file exists; a half-built one is removed and rebuilt.
# If `apt-get download` cannot reach the archive, the copies installed by the same packages
# (/usr/src/linux-source-6.1.tar.xz, /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1) are used instead.
set -euo pipefail

BENCH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_DIR="${CAIRN_BENCH_DIR:-/work/bench-cache}"
SEED=1
while (($#)); do
  case "$1" in
    --bench-dir) BENCH_DIR="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "prepare_corpus.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

KERNEL_PKG=linux-source-6.1
LLVM_PKG=libllvm14
LLVM_SO=usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
QUICK_SUBDIR=drivers/net

say() { echo "[corpus] $*" >&2; }
die() { echo "[corpus] ERROR: $*" >&2; exit 1; }

for t in python3 tar xz dpkg-deb apt-get; do
  command -v "$t" >/dev/null || die "$t is required"
done

mkdir -p "$BENCH_DIR"/{debs,pkg,corpus}

# fetch_pkg NAME FILE_INSIDE FALLBACK -> prints the path of FILE_INSIDE (from the extracted .deb,
# else the installed copy)
fetch_pkg() {
  local name="$1" inside="$2" fallback="$3" deb
  deb="$(ls "$BENCH_DIR/debs/${name}_"*.deb 2>/dev/null | head -n1 || true)"
  if [[ -z "$deb" ]]; then
    say "apt-get download $name (into $BENCH_DIR/debs)"
    if ! (cd "$BENCH_DIR/debs" && apt-get download "$name" >&2); then
      say "apt-get download $name failed; trying apt-get update once"
      apt-get update -qq >&2 || true
      (cd "$BENCH_DIR/debs" && apt-get download "$name" >&2) || true
    fi
    deb="$(ls "$BENCH_DIR/debs/${name}_"*.deb 2>/dev/null | head -n1 || true)"
  fi
  if [[ -n "$deb" ]]; then
    local dest="$BENCH_DIR/pkg/$name"
    if [[ ! -f "$dest/$inside" || ! -f "$dest/.extracted" ]]; then
      rm -rf "$dest"
      say "dpkg-deb -x $(basename "$deb")"
      dpkg-deb -x "$deb" "$dest"
      touch "$dest/.extracted"
    fi
    [[ -f "$dest/$inside" ]] || die "$deb does not contain $inside"
    echo "$(basename "$deb")" >"$BENCH_DIR/pkg/$name.source"
    echo "$dest/$inside"
  elif [[ -f "$fallback" ]]; then
    say "WARNING: could not download $name; using the installed $fallback"
    echo "installed $(dpkg-query -W -f='${Package}_${Version}' "$name" 2>/dev/null || echo "$name")" \
      >"$BENCH_DIR/pkg/$name.source"
    echo "$fallback"
  else
    die "cannot get $name: apt-get download failed and $fallback is not installed"
  fi
}

tree_stats() {  # DIR -> "N files, N bytes"
  python3 - "$1" <<'EOF'
import os, sys
import stat
n = links = b = 0
for d, dirs, files in os.walk(sys.argv[1]):
    for f in files:
        st = os.lstat(os.path.join(d, f))
        if stat.S_ISLNK(st.st_mode):
            links += 1
        else:
            n += 1
            b += st.st_size
print("%d files + %d symlinks, %d bytes (%.2f GiB)" % (n, links, b, b / 2**30))
EOF
}

# make_mutated CORPUS_DIR: mutated/ = pristine/ + mutate.py with the fixed seed
make_mutated() {
  local c="$1"
  rm -rf "$c/mutated"
  cp -a "$c/pristine" "$c/mutated"
  say "mutating $(basename "$c") with seed $SEED"
  python3 "$BENCH_SRC/mutate.py" "$c/mutated" "$SEED" >"$c/mutation"
}

write_info() {  # CORPUS_DIR DESCRIPTION
  local c="$1" desc="$2"
  {
    echo "corpus: $desc"
    echo "pristine: $(tree_stats "$c/pristine")"
    echo "mutated: $(tree_stats "$c/mutated")"
    echo "mutation (bench/mutate.py, seed $SEED): $(cat "$c/mutation")"
    echo "sources: $(cat "$BENCH_DIR/pkg/$KERNEL_PKG.source"), $(cat "$BENCH_DIR/pkg/$LLVM_PKG.source")"
  } >"$c/info.tmp"
  mv "$c/info.tmp" "$c/info"
}

FULL="$BENCH_DIR/corpus/full"
QUICK="$BENCH_DIR/corpus/quick"

if [[ -f "$FULL/info" && "$(sed -n 's/^mutation (bench\/mutate.py, seed \([0-9]*\)).*/\1/p' "$FULL/info")" != "$SEED" ]]; then
  say "seed changed: rebuilding the mutated copies"
  rm -f "$FULL/info" "$QUICK/info"
fi

if [[ ! -f "$FULL/info" ]]; then
  tarball="$(fetch_pkg "$KERNEL_PKG" "usr/src/$KERNEL_PKG.tar.xz" "/usr/src/$KERNEL_PKG.tar.xz")"
  llvm="$(fetch_pkg "$LLVM_PKG" "$LLVM_SO" "/$LLVM_SO")"
  if [[ ! -f "$FULL/pristine.complete" ]]; then
    rm -rf "$FULL"
    mkdir -p "$FULL/pristine/large"
    say "extracting $(basename "$tarball") (a minute or two)"
    tar -xJf "$tarball" -C "$FULL/pristine" --no-same-owner
    [[ -d "$FULL/pristine/$KERNEL_PKG" ]] || die "the tarball did not contain $KERNEL_PKG/"
    cp --preserve=timestamps "$tarball" "$FULL/pristine/large/"
    cp --preserve=timestamps "$llvm" "$FULL/pristine/large/"
    touch "$FULL/pristine.complete"
  fi
  make_mutated "$FULL"
  write_info "$FULL" "the $KERNEL_PKG tree + large/ ($(basename "$tarball"), $(basename "$llvm"))"
  say "full corpus ready: $(sed -n 's/^pristine: //p' "$FULL/info")"
fi

if [[ ! -f "$QUICK/info" ]]; then
  rm -rf "$QUICK"
  mkdir -p "$QUICK/pristine/$KERNEL_PKG/$(dirname "$QUICK_SUBDIR")"
  cp -a "$FULL/pristine/$KERNEL_PKG/$QUICK_SUBDIR" "$QUICK/pristine/$KERNEL_PKG/$QUICK_SUBDIR"
  make_mutated "$QUICK"
  write_info "$QUICK" "$KERNEL_PKG/$QUICK_SUBDIR only (smoke test)"
  say "quick corpus ready: $(sed -n 's/^pristine: //p' "$QUICK/info")"
fi
