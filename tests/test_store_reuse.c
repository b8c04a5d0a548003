/*
 * test_store_reuse: frame-store offsets are given back and reused.
 *   - 70000 shared file mappings made and unmapped one after another (each
 *     shared file object reserves 1 TiB of offsets: without reuse the
 *     offset space, 64 PiB, would run out after 65536), every one read and
 *     written through, its file checked;
 *   - a new anonymous mapping that takes over the offsets of an unmapped
 *     one reads zeros everywhere, never the old bytes (through eviction).
 */
#include <vmkit.h>
#include <fcntl.h>
#include <unistd.h>

#include "check.h"

int main(void)
{
    vmk_system *sys = open_system((size_t)2 << 20, NULL);
    vmk_space *as = new_space(sys);
    int rounds = 70000;
    double t0 = now_s();
    for (int i = 0; i < rounds; i++) {
        int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        CHECK(fd >= 0 && ftruncate(fd, 8192) == 0, "temporary file");
        uint64_t *m = vmk_map_file(as, fd, 0, 8192, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_SHARED);
        CHECK(m, "round %d: vmk_map_file: %s", i, strerror(errno));
        CHECK(m[0] == 0 && m[512] == 0, "round %d: a new file's mapping is not zero", i);
        m[0] = (uint64_t)i + 1;
        CHECK(vmk_unmap(as, m, 8192) == 0, "round %d: unmap", i);
        uint64_t v = 0;
        CHECK(pread(fd, &v, 8, 0) == 8 && v == (uint64_t)i + 1, "round %d: file holds %llu", i,
              ULL(v));
        close(fd);
    }
    printf("%d shared file mappings made and unmapped in %.2f s\n", rounds, now_s() - t0);

    size_t n = 2048;                                  /* 8 MiB over 2 MiB */
    for (int round = 0; round < 3; round++) {
        uint64_t *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
        CHECK(m, "map");
        for (size_t p = 0; p < n; p++)
            for (size_t w = 0; w < TWORDS; w += 64)
                CHECK(m[p * TWORDS + w] == 0, "round %d: page %zu word %zu of a new mapping: %#llx",
                      round, p, w, ULL(m[p * TWORDS + w]));
        for (size_t p = 0; p < n; p++)
            fill_page(m + p * TWORDS, 7, p);
        CHECK(vmk_unmap(as, m, n * TPAGE) == 0, "unmap");
    }
    vmk_stats st = get_stats(sys);
    CHECK(st.resident == 0 && st.swap_used == 0, "leak: resident %llu swap %llu", ULL(st.resident),
          ULL(st.swap_used));
    vmk_system_close(sys);
    printf("ok: offsets reused; new mappings over old offsets read zeros\n");
    return 0;
}
