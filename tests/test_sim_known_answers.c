/*
 * test_sim_known_answers: the simulator against answers worked out by hand
 * or printed in textbooks, the trace parsers, and `vmkit sim`'s output.
 *
 * The command is tested by compiling tools/sim_cmd.c into this program
 * (tools/ is on the include path through vmkit_sim) and calling its
 * sim_main with memory streams for stdout and stderr.
 */
#include "sim.h"
#include "sim_cmd.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                       fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

#define N(a) (sizeof (a) / sizeof (a)[0])

/* Silberschatz's reference string, and the one showing Belady's anomaly. */
static const uint64_t textbook[] = { 7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1 };
static const uint64_t belady[] = { 1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5 };

static void expect(const char *pol, const uint64_t *r, size_t n, size_t frames, uint64_t want)
{
    uint64_t got = sim_run(pol, r, n, frames);
    if (got != want)
        FAIL("%s with %zu frames: %llu faults, expected %llu", pol, frames,
             (unsigned long long)got, (unsigned long long)want);
}

static void test_textbook(void)
{
    expect("fifo", textbook, N(textbook), 3, 15);
    expect("lru", textbook, N(textbook), 3, 12);
    expect("opt", textbook, N(textbook), 3, 9);
    /* Traced by hand: a loaded page has its reference bit set. */
    expect("clock", textbook, N(textbook), 3, 14);
    /* Traced by hand.  Window 1: pages 1 (at 5), 4 (at 10) and 2 (at 19)
       are found out of the window; every other fault is a full turn that
       takes the page under the hand.  Window 3 covers the whole memory
       here: every fault is a full turn, which is FIFO. */
    expect("wsclock:1", textbook, N(textbook), 3, 13);
    expect("wsclock:3", textbook, N(textbook), 3, 15);
    /* Shifting every reference, aging ranks pages exactly as LRU does. */
    expect("lru-aging:8:1", textbook, N(textbook), 3, 12);
    /* Everything fits: 6 distinct pages, 6 compulsory faults. */
    const char *const *names = sim_policy_names();
    for (size_t i = 0; names[i]; i++) {
        expect(names[i], textbook, N(textbook), 6, 6);
        expect(names[i], textbook, N(textbook), 100, 6);
    }
}

static void test_belady(void)
{
    expect("fifo", belady, N(belady), 3, 9);
    expect("fifo", belady, N(belady), 4, 10);       /* more frames, more faults */
    expect("lru", belady, N(belady), 3, 10);
    expect("lru", belady, N(belady), 4, 8);
    expect("opt", belady, N(belady), 3, 7);
    expect("opt", belady, N(belady), 4, 6);
}

/*
 * S3-FIFO traced by hand, 2 frames (S target 1, M 1, ghost 1):
 * 1 F S[1]; 1 hit (freq 1); 2 F S[1 2]; 3 F: S's 1 was referenced -> M,
 * S's 2 was not -> ghost, S[3]; 1 hit; 3 hit; 4 F: 3 promoted, M full: M's 1
 * reinserted once (freq 1 -> 0) then evicted, S[4]; 1 F: 4 -> ghost.  5.
 */
static void test_s3fifo(void)
{
    static const uint64_t a[] = { 1, 1, 2, 3, 1, 3, 4, 1 };
    expect("s3fifo", a, N(a), 2, 5);
    expect("lru", a, N(a), 2, 6);
    expect("opt", a, N(a), 2, 4);
    /* 10 frames (S 1, M 9, ghost 9): 1..10 fill S, 11 pushes 1 out to the
       ghost; the fault on 1 finds it there and puts it in M, where the
       10 new pages 12..21 cannot reach it: the last 1 hits (22 faults).
       Without the ghost, 1 would sit at the end of S and the 10th new page
       would evict it; LRU evicts it too: 23. */
    uint64_t b[24];
    size_t n = 0;
    for (uint64_t p = 1; p <= 11; p++)
        b[n++] = p;
    b[n++] = 1;
    for (uint64_t p = 12; p <= 21; p++)
        b[n++] = p;
    b[n++] = 1;
    expect("s3fifo", b, n, 10, 22);
    expect("lru", b, n, 10, 23);
    /* Scan resistance, 10 frames: hot pages 1..8 referenced twice, a scan
       of 100 pages used once, the hot pages again.  The first eviction
       finds the hot pages referenced in S and promotes them to M; each scan
       page then leaves S unreferenced.  The hot pages never fault again:
       8 + 100.  LRU lets the scan flush them: 8 + 100 + 8. */
    uint64_t c[216];
    n = 0;
    for (int rep = 0; rep < 2; rep++)
        for (uint64_t p = 1; p <= 8; p++)
            c[n++] = p;
    for (uint64_t p = 100; p < 200; p++)
        c[n++] = p;
    for (uint64_t p = 1; p <= 8; p++)
        c[n++] = p;
    expect("s3fifo", c, n, 10, 108);
    expect("lru", c, n, 10, 116);
    expect("opt", c, n, 10, 108);
}

/*
 * Clock spares a page referenced between two sweeps; FIFO does not.  Hot
 * page 0 alternates with a stream of cold pages, 4 frames.  Traced by hand:
 * the first eviction finds all four bits set (loads set them), sweeps a full
 * circle and evicts frame 0 - the hot page, which faults back into frame 1.
 * From then on a 3-fault cycle: [a* 0* b* c*] hand at 0: a full circle
 * evicts a; 0 is referenced; the next fault clears 0's bit and evicts b;
 * 0 is referenced; the next evicts c.  The hot page never leaves again:
 * faults = the cold pages + 2.
 */
static void test_clock_hot_page(void)
{
    uint64_t r[2000];
    size_t n = 0;
    for (uint64_t c = 1; n < N(r); c++) {
        r[n++] = 0;                         /* the hot page */
        r[n++] = c;                         /* a stream of cold pages */
    }
    expect("clock", r, n, 4, 2 + n / 2);
    /* After the warm-up (the first 20 references), only cold pages fault. */
    if (sim_run("clock", r, n, 4) - sim_run("clock", r, 20, 4) != (n - 20) / 2)
        FAIL("clock evicted the hot page after warm-up");
    if (sim_run("fifo", r, n, 4) - sim_run("fifo", r, 20, 4) <= (n - 20) / 2)
        FAIL("fifo should evict the hot page periodically");
}

/* Frames = 1: every policy faults exactly when the page changes. */
static void test_one_frame(void)
{
    static const uint64_t r[] = { 5, 5, 6, 6, 6, 5, 7, 7, 5, 5 };
    const char *const *names = sim_policy_names();
    for (size_t i = 0; names[i]; i++)
        expect(names[i], r, N(r), 1, 5);
}

static void test_bad_input(void)
{
    if (sim_run("lru", textbook, N(textbook), 0) != UINT64_MAX)
        FAIL("0 frames must be an error");
    const char *bad[] = { "nope", "lru:3", "lru-aging:9", "lru-aging:0", "lru-aging:4:2:1",
                          "wsclock:", "wsclock:x", "wsclock:1:2", "opt:1", "" };
    for (size_t i = 0; i < N(bad); i++)
        if (sim_policy_valid(bad[i]) || sim_run(bad[i], textbook, N(textbook), 3) != UINT64_MAX)
            FAIL("policy '%s' must be rejected", bad[i]);
    if (!sim_policy_valid("lru-aging:4:100") || !sim_policy_valid("wsclock:50") || !sim_policy_valid("wsclock:0"))
        FAIL("valid parameters rejected");
    expect("opt", textbook, 0, 3, 0);
    /* Pages of different spaces are different pages, however alike. */
    static const uint64_t spaces[] = { 1ull << 48 | 5, 2ull << 48 | 5, 5, 1ull << 48 | 5, 5 };
    expect("lru", spaces, N(spaces), 1, 5);
    expect("lru", spaces, N(spaces), 2, 4);
    expect("lru", spaces, N(spaces), 3, 3);
}

/* ------------------------------------------------------------ parsing */

static FILE *mem_in(const void *buf, size_t len)
{
    FILE *f = fmemopen((void *)buf, len, "rb");
    if (!f)
        FAIL("fmemopen");
    return f;
}

static void load_buf(const void *buf, size_t len, sim_trace *t, int want_err, size_t want_line)
{
    FILE *f = mem_in(buf, len);
    size_t line = 0;
    int r = sim_trace_load(f, t, &line);
    fclose(f);
    if (r != want_err)
        FAIL("load: %d, expected %d", r, want_err);
    if (want_err && line != want_line)
        FAIL("error at line %zu, expected %zu", line, want_line);
}

static void test_text_parsing(void)
{
    static const char txt[] = "# a comment 1 2 3\n7 0,1\t2\r\n0x10 0X1f,, 18446744073709551615 # end\n42";
    static const uint64_t want[] = { 7, 0, 1, 2, 16, 31, UINT64_MAX, 42 };
    sim_trace t;
    load_buf(txt, strlen(txt), &t, 0, 0);
    if (t.binary || t.n != N(want) || memcmp(t.refs, want, sizeof want))
        FAIL("text parse: %zu refs", t.n);
    sim_trace_free(&t);
    load_buf("", 0, &t, 0, 0);
    if (t.n != 0)
        FAIL("empty input");
    sim_trace_free(&t);
    static const char *bad[] = { "1 2\n3 -4\n", "1\n2\n\n0x", "18446744073709551616", "1 2 abc" };
    static const size_t line[] = { 2, 4, 1, 1 };
    for (size_t i = 0; i < N(bad); i++)
        load_buf(bad[i], strlen(bad[i]), &t, -EINVAL, line[i]);
}

static void put_le(unsigned char *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

/* A VMKTRC01 image of refs (space id 3), with evictions and junk events. */
static size_t make_binary(unsigned char *buf, const uint64_t *refs, size_t n)
{
    memcpy(buf, "VMKTRC01", 8);
    put_le(buf + 8, 4096, 4);
    put_le(buf + 12, 0, 4);
    size_t off = 16;
    for (size_t i = 0; i < n; i++) {
        uint32_t ev = (uint32_t)(i % 4) + 1;            /* events 1..4 */
        for (int extra = 0; extra < (i % 3 == 0 ? 2 : 1); extra++) {
            put_le(buf + off, (3ull << 48) | refs[i], 8);
            put_le(buf + off + 8, extra ? (i % 2 ? 5 : 9) : ev, 4);
            put_le(buf + off + 12, (uint32_t)i * 10, 4);
            off += 16;
        }
    }
    return off;
}

static void test_binary_parsing(void)
{
    unsigned char buf[16 + 2 * 16 * N(textbook) + 8];
    size_t len = make_binary(buf, textbook, N(textbook));
    sim_trace t;
    load_buf(buf, len, &t, 0, 0);
    if (!t.binary || t.page_size != 4096 || t.truncated || t.n != N(textbook) || t.skipped != 7)
        FAIL("binary: %zu refs, %llu skipped", t.n, (unsigned long long)t.skipped);
    for (size_t i = 0; i < t.n; i++)
        if (t.refs[i] != ((3ull << 48) | textbook[i]))
            FAIL("binary ref %zu", i);
    /* The same string, as text and as a trace, simulates the same. */
    char txt[256];
    size_t tl = 0;
    for (size_t i = 0; i < N(textbook); i++)
        tl += (size_t)snprintf(txt + tl, sizeof txt - tl, "%llu ", (unsigned long long)textbook[i]);
    sim_trace tt;
    load_buf(txt, tl, &tt, 0, 0);
    const char *const *names = sim_policy_names();
    for (size_t i = 0; names[i]; i++)
        for (size_t fr = 1; fr <= 6; fr++)
            if (sim_run(names[i], t.refs, t.n, fr) != sim_run(names[i], tt.refs, tt.n, fr))
                FAIL("%s, %zu frames: text and binary differ", names[i], fr);
    sim_trace_free(&t);
    sim_trace_free(&tt);
    memset(buf + len, 0, 8);                            /* half a record more */
    load_buf(buf, len + 8, &t, 0, 0);
    if (!t.truncated || t.n != N(textbook))
        FAIL("truncated trace not flagged");
    sim_trace_free(&t);
    load_buf(buf, 12, &t, -EINVAL, 0);                  /* header cut short */
}

/* ------------------------------------------------------------ command */

struct run { int rc; char *out, *err; };

static struct run run_cmd(const char *const *args)
{
    char *argv[32];
    int argc = 0;
    while (args[argc]) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    struct run r = { 0 };
    size_t lo, le;
    FILE *out = open_memstream(&r.out, &lo), *err = open_memstream(&r.err, &le);
    if (!out || !err)
        FAIL("open_memstream");
    r.rc = sim_main(argc, argv, out, err);
    fclose(out);
    fclose(err);
    return r;
}

static void free_run(struct run *r)
{
    free(r->out);
    free(r->err);
}

static void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
        FAIL("write %s", path);
}

static void test_cmd_tsv(const char *txt, const char *bin)
{
    static const char want[] =
        "policy\tframes\treferences\tfaults\tmiss_ratio\n"
        "fifo\t3\t20\t15\t0.750000\n"
        "fifo\t4\t20\t10\t0.500000\n"
        "lru\t3\t20\t12\t0.600000\n"
        "lru\t4\t20\t8\t0.400000\n"
        "opt\t3\t20\t9\t0.450000\n"
        "opt\t4\t20\t8\t0.400000\n";
    const char *files[] = { txt, bin };
    for (int i = 0; i < 2; i++) {
        struct run r = run_cmd((const char *[]){ "sim", "--policy", "fifo,lru,opt", "--frames", "3,4",
                                                 "--format", "tsv", files[i], NULL });
        if (r.rc != 0 || strcmp(r.out, want))
            FAIL("tsv output (%s), rc %d:\n%s%s", files[i], r.rc, r.out, r.err);
        free_run(&r);
    }
    static const char curve[] =
        "policy\tframes\treferences\tfaults\tmiss_ratio\n"
        "lru\t2\t20\t17\t0.850000\n"
        "lru\t4\t20\t8\t0.400000\n"
        "lru\t5\t20\t7\t0.350000\n";
    struct run r = run_cmd((const char *[]){ "sim", "-p", "lru", "--curve", "2:5:2", "--format=tsv", txt, NULL });
    if (r.rc != 0 || strcmp(r.out, curve))
        FAIL("curve tsv output, rc %d:\n%s%s", r.rc, r.out, r.err);
    free_run(&r);
}

static void test_cmd_table_and_errors(const char *txt)
{
    struct run r = run_cmd((const char *[]){ "sim", "-p", "opt,fifo", "-f", "3", txt, NULL });
    if (r.rc != 0 || !strstr(r.out, "20 references, 6 distinct pages")
        || !strstr(r.out, "fifo                    3           15     0.7500    +66.7%"))
        FAIL("table output, rc %d:\n%s%s", r.rc, r.out, r.err);
    free_run(&r);
    r = run_cmd((const char *[]){ "sim", "--curve", txt, NULL });  /* all policies, 1..6 */
    if (r.rc != 0 || !strstr(r.out, "         6     0.3000     0.3000"))
        FAIL("curve table, rc %d:\n%s%s", r.rc, r.out, r.err);
    free_run(&r);
    r = run_cmd((const char *[]){ "sim", "--help", NULL });
    if (r.rc != 0 || !strstr(r.out, "usage: vmkit sim") || !strstr(r.out, "s3fifo"))
        FAIL("--help");
    free_run(&r);
    const char *const bad[][6] = {
        { "sim", "-p", "nope", "-f", "3", NULL }, { "sim", "-f", "0", "x", NULL },
        { "sim", "-f", "3", NULL }, { "sim", txt, NULL }, { "sim", "-f", "3", "--curve", txt, NULL },
        { "sim", "--format", "csv", "-f", "3", NULL }, { "sim", "--curve", "5:2", txt, NULL },
    };
    for (size_t i = 0; i < N(bad); i++) {
        r = run_cmd(bad[i]);
        if (r.rc != 2 || !*r.err)
            FAIL("usage error %zu: rc %d", i, r.rc);
        free_run(&r);
    }
    r = run_cmd((const char *[]){ "sim", "-f", "3", "/nonexistent/trace", NULL });
    if (r.rc != 1 || !strstr(r.err, "No such file"))
        FAIL("missing file: rc %d %s", r.rc, r.err);
    free_run(&r);
}

static void test_cmd(void)
{
    char txt[] = "/tmp/vmk-sim-txt-XXXXXX", bin[] = "/tmp/vmk-sim-bin-XXXXXX";
    int a = mkstemp(txt), b = mkstemp(bin);
    if (a < 0 || b < 0)
        FAIL("mkstemp");
    close(a);
    close(b);
    static const char str[] = "7 0 1 2 0 3 0 4 2 3 0 3 2 1 2 0 1 7 0 1\n";
    write_file(txt, str, strlen(str));
    unsigned char buf[16 + 2 * 16 * N(textbook)];
    write_file(bin, buf, make_binary(buf, textbook, N(textbook)));
    test_cmd_tsv(txt, bin);
    test_cmd_table_and_errors(txt);
    unlink(txt);
    unlink(bin);
}

int main(void)
{
    test_textbook();
    test_belady();
    test_s3fifo();
    test_clock_hot_page();
    test_one_frame();
    test_bad_input();
    test_text_parsing();
    test_binary_parsing();
    test_cmd();
    printf("test_sim_known_answers: ok\n");
    return 0;
}
