#!/bin/sh
# Build LLNL umap and run the umapsort comparison (bench/bench_umapsort.c):
# vmkit, the kernel's mmap in a memory cgroup, and umap's own umapsort binary,
# in the same run.  docs/BENCHMARKS-umapsort.md.
#
#   scripts/umap.sh [UMAP] [bench_umapsort options...]
#
# UMAP is one of
#   - a umap source checkout (has CMakeLists.txt and examples/umapsort/),
#   - a bare git directory of umap (its HEAD is exported),
#   - a umap build directory (has examples/umapsort/umapsort),
#   - nothing: the snapshot the session's fetch tool leaves in
#     /work/.mirror/LLNL+umap/repo if it is there, else a `git clone` of
#     https://github.com/LLNL/umap (needs the network).
# umap is built under /tmp (UMAP_SRC, UMAP_BUILD override), vmkit's bench in
# build-umap/ of this tree (BUILD overrides).  With no umap to be had the
# bench still runs vmkit against the kernel and says umap was skipped.
# Run as root: the kernel's side needs a memory cgroup, and page caches are
# dropped between runs (every step is echoed by the bench).
#
# Examples:
#   sudo scripts/umap.sh                              # 256 MiB, 32 MiB, 3 reps
#   sudo scripts/umap.sh ~/src/umap --reps 5
#   sudo scripts/umap.sh /tmp/umap-build --size 64M --limit 8M --reps 1
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
UMAP_SRC=${UMAP_SRC:-/tmp/umap-src}
UMAP_BUILD=${UMAP_BUILD:-/tmp/umap-build}
BUILD=${BUILD:-$ROOT/build-umap}
MIRROR=/work/.mirror/LLNL+umap/repo

say() { echo "umap.sh: $*" >&2; }
run() { echo "+ $*" >&2; "$@"; }

ARG=
case "${1:-}" in
    ""|-*) ;;
    *) ARG=$1; shift ;;
esac

# Build tools: cmake, a C++ compiler with OpenMP (g++ brings libgomp), make, git.
need=""
command -v cmake >/dev/null 2>&1 || need="$need cmake"
command -v g++ >/dev/null 2>&1 || need="$need g++"
command -v make >/dev/null 2>&1 || need="$need make"
command -v git >/dev/null 2>&1 || need="$need git"
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        run apt-get update -qq
        run apt-get install -y -qq $need
    else
        say "missing:$need (run as root to install them)"
        exit 1
    fi
fi

# Where umap's source (or binary) comes from.
UMAPSORT=
from_git() {    # $1: a bare git directory
    run rm -rf "$UMAP_SRC"
    run mkdir -p "$UMAP_SRC"
    echo "+ git --git-dir=$1 archive HEAD | tar -x -C $UMAP_SRC" >&2
    git --git-dir="$1" archive HEAD | tar -x -C "$UMAP_SRC"
    say "umap $(git --git-dir="$1" log -1 --format='%h %cs %s' 2>/dev/null)"
}
if [ -n "$ARG" ]; then
    if [ -x "$ARG/examples/umapsort/umapsort" ]; then
        UMAPSORT=$ARG/examples/umapsort/umapsort
        UMAP_BUILD=$ARG
    elif [ -f "$ARG/CMakeLists.txt" ] && [ -d "$ARG/examples/umapsort" ]; then
        UMAP_SRC=$ARG
    elif [ -f "$ARG/HEAD" ] && [ -d "$ARG/objects" ]; then
        from_git "$ARG"
    else
        say "$ARG: not a umap checkout, bare git directory or build directory"
        exit 2
    fi
elif [ -f "$MIRROR/HEAD" ]; then
    from_git "$MIRROR"
elif [ ! -f "$UMAP_SRC/CMakeLists.txt" ]; then
    run rm -rf "$UMAP_SRC"
    if ! run git clone -q --depth 1 https://github.com/LLNL/umap "$UMAP_SRC"; then
        say "no umap source (no network, no $MIRROR): umap is skipped"
        UMAP_SRC=
    fi
fi

# Build umap's umapsort (Release, as its README says for an optimized build).
if [ -z "$UMAPSORT" ] && [ -n "$UMAP_SRC" ]; then
    if run cmake -S "$UMAP_SRC" -B "$UMAP_BUILD" -DCMAKE_BUILD_TYPE=Release >"$UMAP_BUILD.cmake.log" 2>&1 &&
       run make -C "$UMAP_BUILD" -j"$(nproc)" umapsort >"$UMAP_BUILD.make.log" 2>&1; then
        UMAPSORT=$UMAP_BUILD/examples/umapsort/umapsort
    else
        say "umap did not build (logs: $UMAP_BUILD.cmake.log, $UMAP_BUILD.make.log): umap is skipped"
        tail -20 "$UMAP_BUILD.make.log" >&2 2>/dev/null || tail -20 "$UMAP_BUILD.cmake.log" >&2 || true
    fi
fi

# vmkit's side.
run cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
run make -C "$BUILD" -j"$(nproc)" bench_umapsort >/dev/null

cd "$ROOT"
if [ -n "$UMAPSORT" ]; then
    LIBDIR=$(dirname "$(find "$UMAP_BUILD" -name 'libumap.so*' -print -quit 2>/dev/null || true)")
    run "$BUILD/bench_umapsort" --umap "$UMAPSORT" --umap-lib "$LIBDIR" "$@"
else
    run "$BUILD/bench_umapsort" "$@"
fi
