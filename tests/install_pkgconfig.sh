#!/bin/sh
# Install the build into a temporary prefix and build a program against it
# with pkg-config, static and shared; run both (they page 64 MiB through a
# 4 MiB budget and check every page).  $1: the build directory, $2: the
# sanitizer flags it was built with (the program needs them too).
set -e
build=$1
san=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cmake --install "$build" --prefix "$dir/prefix" >/dev/null
cat > "$dir/ex.c" <<'C'
#include <vmkit.h>
#include <stdio.h>
int main(void)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = 4 << 20;
    vmk_system *s;
    vmk_space *a;
    if (vmk_system_open(&s, &c) || vmk_space_create(s, &a))
        return 1;
    size_t len = (size_t)64 << 20;
    unsigned char *p = vmk_map_anon(a, len, VMK_PROT_READ | VMK_PROT_WRITE);
    if (!p)
        return 2;
    for (size_t i = 0; i < len; i += 4096)
        p[i] = (unsigned char)(i >> 12);
    for (size_t i = 0; i < len; i += 4096)
        if (p[i] != (unsigned char)(i >> 12))
            return 3;
    vmk_system_close(s);
    puts("ok");
    return 0;
}
C
pc=$(dirname "$(find "$dir/prefix" -name vmkit.pc)")
export PKG_CONFIG_PATH="$pc"
libdir=$(pkg-config --variable=libdir vmkit)
cc $san "$dir/ex.c" -o "$dir/ex_shared" $(pkg-config --cflags --libs vmkit)
cc $san "$dir/ex.c" -o "$dir/ex_static" $(pkg-config --cflags vmkit) "$libdir/libvmkit.a" -lpthread
LD_LIBRARY_PATH="$libdir" "$dir/ex_shared"
"$dir/ex_static"
