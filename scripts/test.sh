#!/bin/sh
# Build vmkit three ways (plain, ASan+UBSan, TSan) and run the whole test
# suite in each.  VMK_TEST_BUILDS="plain" (or "plain address") runs fewer.
cd "$(dirname "$0")/.." || exit 1
sh scripts/deps.sh || exit 1
builds=${VMK_TEST_BUILDS:-"plain address thread"}
passed=0 failed=0 failures=""
for b in $builds; do
    dir=build-test-$b
    san=""; [ "$b" = plain ] || san=$b
    echo "=== $b build ==="
    if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMK_SANITIZE="$san" >/dev/null ||
       ! cmake --build "$dir" -j"$(nproc)" >/dev/null; then
        echo "build $b FAILED"; failed=$((failed + 1)); failures="$failures build-$b"; continue
    fi
    (cd "$dir" && ctest --output-on-failure -j1) > "$dir/ctest.log" 2>&1
    rc=$?
    cat "$dir/ctest.log"
    p=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2 \1/p' "$dir/ctest.log" | tail -1)
    total=${p% *}; bad=${p#* }
    [ -n "$total" ] || { total=0; bad=1; }
    passed=$((passed + total - bad)); failed=$((failed + bad))
    [ $rc -eq 0 ] || failures="$failures $b"
done
echo "=== summary: builds [$builds]${failures:+, failing:$failures} ==="
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$failures" ]
