/*
 * bench_core.c - the benchmark suite as a program of its own: the same as
 * `vmkit bench` (tools/bench.c, which holds the workloads), kept so that
 * `sudo build/bench_core [--quick]` still works.
 */
int vmk_cmd_bench(int argc, char **argv);

int main(int argc, char **argv)
{
    return vmk_cmd_bench(argc, argv);
}
