#!/bin/sh
# Install the Debian packages vmkit needs to build and test, when run as root
# and something is missing.  Not root: say what is missing and go on.
need=""
command -v cc >/dev/null 2>&1 || need="$need gcc"
command -v c++ >/dev/null 2>&1 || need="$need g++"
command -v make >/dev/null 2>&1 || need="$need make"
command -v cmake >/dev/null 2>&1 || need="$need cmake"
command -v ctest >/dev/null 2>&1 || need="$need cmake"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
[ -n "$need" ] || exit 0
if [ "$(id -u)" = 0 ]; then
    echo "+ apt-get install -y$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $need >/dev/null
else
    echo "missing:$need (run as root to install them)" >&2
    exit 1
fi
