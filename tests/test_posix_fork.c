/*
 * test_posix_fork - a child of fork(2) uses vmkit on its own.
 *
 * The parent has a system with a resident mapping.  A fork(2) child (which
 * has none of the parent's systems: their windows are not inherited) opens
 * a system of its own, maps regions until one lies where the parent's
 * window was (free in the child) and writes and reads every page through evictions.
 * It must see its own bytes, and the parent's data must not change.  The
 * child runs under an alarm: a fault taken for the parent's system would
 * loop, and the test would fail instead of hanging.  Where the kernel puts
 * the child's mappings is its choice: when none overlaps the parent's old
 * window the test says so (a note on stderr) and checks the rest.
 */
#include "vmkit.h"
#include "check.h"

enum { NPAGES = 4096, PARENT_PAGES = 262144 };      /* 16 MiB; the parent maps 1 GiB */

static int child_uses_vmkit(void *arg)
{
    char *parents = arg;
    alarm(60);
    vmk_system *sys = open_system((size_t)4 << 20, NULL);
    vmk_space *as = new_space(sys);
    /* Map until a mapping overlaps the parent's window (free here). */
    char *a = NULL;
    for (int i = 0; i < 16; i++) {
        a = vmk_map_anon(as, NPAGES * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
        if (!a)
            return 2;
        if (a < parents + (size_t)PARENT_PAGES * TPAGE && parents < a + NPAGES * TPAGE)
            break;
    }
    if (!(a < parents + (size_t)PARENT_PAGES * TPAGE && parents < a + NPAGES * TPAGE))
        fprintf(stderr, "note: the child's mapping %p is not where the parent's was (%p)\n",
                (void *)a, (void *)parents);
    for (size_t pg = 0; pg < NPAGES; pg++)
        fill_page(a + pg * TPAGE, 7, pg);
    size_t bad = 0;
    for (size_t pg = 0; pg < NPAGES; pg++)
        bad += verify_page(a + pg * TPAGE, 7, pg, "fork(2) child") != 0;
    vmk_stats st = get_stats(sys);
    vmk_system_close(sys);
    if (bad)
        return 3;
    return st.pages_swapped_out > 0 ? 0 : 4;        /* it did page */
}

int main(void)
{
#ifdef VMK_TEST_TSAN
    /* ThreadSanitizer cannot follow a fork(2) child of a threaded process
     * that starts threads of its own ("dup thread with used id"): the plain
     * and ASan builds run this test. */
    printf("skipped under ThreadSanitizer\n");
    return 77;
#endif
    vmk_system *sys = open_system((size_t)64 << 20, NULL);
    vmk_space *as = new_space(sys);
    char *a = vmk_map_anon(as, (size_t)PARENT_PAGES * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(a, "map");
    for (size_t pg = 0; pg < NPAGES; pg++)
        fill_page(a + pg * TPAGE, 1, pg);
    for (int round = 0; round < 3; round++) {
        int st = child_run(child_uses_vmkit, a);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "round %d: the fork(2) child: %s", round,
              status_str(st));
    }
    size_t bad = 0;
    for (size_t pg = 0; pg < NPAGES; pg++)
        bad += verify_page(a + pg * TPAGE, 1, pg, "parent") != 0;
    CHECK(bad == 0, "%zu parent pages changed", bad);
    vmk_system_close(sys);
    printf("ok: three fork(2) children used systems of their own; the parent's pages unchanged\n");
    return 0;
}
