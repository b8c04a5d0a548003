/*
 * vmkit.c - the command-line program: `vmkit demo`, `vmkit sim`, `vmkit stress`, `vmkit stat`...
 *
 * Each command is a function vmk_cmd_NAME(argc, argv) (argv[0] is the
 * command's name), in a file of its own under tools/ and declared in
 * commands.h.  Commands that are not built into this binary are weak
 * symbols, so `vmkit --help` lists only what is here.
 */
#include "commands.h"
#include <stdio.h>
#include <string.h>
#include <vmkit.h>

int vmk_cmd_demo(int argc, char **argv);
__attribute__((weak)) int vmk_cmd_stress(int argc, char **argv);
__attribute__((weak)) int vmk_cmd_sim(int argc, char **argv);
__attribute__((weak)) int vmk_cmd_trace(int argc, char **argv);
__attribute__((weak)) int vmk_cmd_plot(int argc, char **argv);
__attribute__((weak)) int vmk_cmd_bench(int argc, char **argv);
__attribute__((weak)) int vmk_cmd_stat(int argc, char **argv);

struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
};

static int cmd_version(int argc, char **argv)
{
    (void)argc, (void)argv;
    printf("vmkit %d.%d\n", VMK_VERSION_MAJOR, VMK_VERSION_MINOR);
    return 0;
}

static int usage(FILE *f, const struct command *cmds, size_t n)
{
    fprintf(f, "vmkit - a virtual-memory system in user space\n\n"
               "usage: vmkit COMMAND [OPTIONS]   (vmkit COMMAND --help for its options)\n\n"
               "commands:\n");
    for (size_t i = 0; i < n; i++)
        if (cmds[i].fn)
            fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].what);
    fprintf(f, "\nenvironment: VMK_MEMORY_LIMIT, VMK_SWAP_PATH, VMK_SWAP_SIZE, VMK_POLICY,\n"
               "VMK_FAULT_AROUND, VMK_RECLAIM_BATCH, VMK_KSWAPD, VMK_TRACE, VMK_WS_TAU_MS, VMK_VERBOSE,\n"
               "VMK_STATS, VMK_STATS_INTERVAL_MS, VMK_FILE_READAHEAD, VMK_FILE_ASYNC, VMK_INJECT\n");
    return f == stderr ? 2 : 0;
}

int main(int argc, char **argv)
{
    const struct command cmds[] = {
        { "demo", vmk_cmd_demo, "page a region far larger than the budget (also: demo fork, demo file)" },
        { "stress", vmk_cmd_stress, "randomized operations from many threads against a model" },
        { "sim", vmk_cmd_sim, "replacement policies on reference strings and recorded traces" },
        { "trace", vmk_cmd_trace, "print a recorded fault trace as text, with a summary" },
        { "stat", vmk_cmd_stat, "a stats log (VMK_STATS=FILE) as a table, like vmstat; --follow" },
        { "plot", vmk_cmd_plot, "SVG plots: miss-ratio curves, working sets and fault rates over time" },
        { "bench", vmk_cmd_bench, "vmkit against the kernel, same work, same run: ratios and reports" },
        { "version", cmd_version, "print the version" },
    };
    size_t n = sizeof cmds / sizeof cmds[0];
    if (argc < 2)
        return usage(stderr, cmds, n);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
        return usage(stdout, cmds, n);
    for (size_t i = 0; i < n; i++)
        if (cmds[i].fn && !strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "vmkit: unknown command '%s'\n\n", argv[1]);
    return usage(stderr, cmds, n);
}
