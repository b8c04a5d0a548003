/*
 * test_frames_zeroed: a frame never carries one space's data into another.
 * Space A fills the whole budget several times over with a pattern (so every
 * frame and many swap slots held A's bytes), then unmaps; space B maps the
 * same amount and must read zeros in every byte - from frames and from swap
 * slots A used - and vmk_page_info must call its pages never touched.
 */
#include <vmkit.h>
#include "check.h"

int main(void)
{
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = 2 << 20;
    vmk_system *sys;
    int r = vmk_system_open(&sys, &cfg);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    vmk_space *a, *b;
    vmk_space_create(sys, &a);
    vmk_space_create(sys, &b);
    size_t len = 8 << 20;
    unsigned char *ma = vmk_map_anon(a, len, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(ma, "map a");
    memset(ma, 0xa5, len);
    CHECK(vmk_unmap(a, ma, len) == 0, "unmap a");
    unsigned char *mb = vmk_map_anon(b, len, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(mb, "map b");
    struct vmk_page_info pi;
    CHECK(vmk_page_info(b, mb + len / 2, &pi) == 0 && pi.state == VMK_PAGE_NONE, "fresh page not NONE");
    for (size_t i = 0; i < len; i++)
        CHECK(mb[i] == 0, "byte %zu of a fresh mapping is %#x", i, mb[i]);
    memset(mb, 0x5a, len);                   /* and B's own data goes through swap intact */
    for (size_t i = 0; i < len; i += 4096)
        CHECK(mb[i] == 0x5a && mb[i + 4095] == 0x5a, "page %zu of b wrong", i / 4096);
    vmk_system_close(sys);
    printf("ok: every frame and slot came to the second space zeroed\n");
    return 0;
}
