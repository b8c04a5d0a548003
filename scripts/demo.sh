#!/bin/sh
# Build vmkit and run its demo: a 1 GiB region paged over a 64 MiB budget.
# Extra arguments go to `vmkit demo` (see `build/vmkit --help`).
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec ./build/vmkit demo "$@"
