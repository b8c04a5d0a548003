#!/bin/sh
# Build the libFuzzer targets (clang, ASan+UBSan) and run each for
# FUZZ_SECONDS (default 30) on its seed corpus in fuzz/corpus/.  A crash
# leaves its input in fuzz/crashes/ and fails the run: make it a test.
cd "$(dirname "$0")/.." || exit 1
secs=${FUZZ_SECONDS:-30}
if ! command -v clang >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "+ apt-get install -y clang libclang-rt-14-dev"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null || exit 1
    else
        echo "fuzz: clang missing (run as root to install it)"; exit 1
    fi
fi
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DVMK_FUZZ=ON \
      -DVMK_SANITIZE=address >/dev/null && cmake --build build-fuzz -j"$(nproc)" --target fuzz_api fuzz_trace >/dev/null || exit 1
mkdir -p fuzz/crashes
status=0
for t in api trace; do
    work=$(mktemp -d)
    cp fuzz/corpus/$t/* "$work"/
    echo "=== fuzz_$t for $secs s ==="
    ASAN_OPTIONS=handle_sigbus=0:handle_segv=0:detect_leaks=0 \
        ./build-fuzz/fuzz_$t -handle_bus=0 -handle_segv=0 -max_total_time="$secs" -rss_limit_mb=4096 \
        -artifact_prefix=fuzz/crashes/ "$work" > "build-fuzz/fuzz_$t.log" 2>&1
    rc=$?
    tail -n 1 "build-fuzz/fuzz_$t.log"
    [ $rc -eq 0 ] || { echo "fuzz_$t FAILED (see build-fuzz/fuzz_$t.log)"; status=1; }
    rm -rf "$work"
done
exit $status
