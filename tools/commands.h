/* commands.h - the vmkit subcommands that tools/vmkit.c dispatches to; append yours (no include guard: repeated prototypes are harmless). */
/* vmkit sim: compare page-replacement policies on a reference string or recorded trace (tools/sim_cmd.c). */
int vmk_cmd_sim(int argc, char **argv);
/* vmkit trace: print a recorded fault trace as text with a summary (tools/trace_cmd.c). */
int vmk_cmd_trace(int argc, char **argv);
/* vmkit stress: random operations from many threads against a model (tools/stress.c). */
int vmk_cmd_stress(int argc, char **argv);
/* vmkit bench: vmkit against the kernel, same work, same run; ratio table and reports (tools/bench.c). */
int vmk_cmd_bench(int argc, char **argv);
/* vmkit plot: SVG miss-ratio curves, working sets and fault rates over time (tools/plot.c). */
int vmk_cmd_plot(int argc, char **argv);
/* vmkit stat: a stats log (VMK_STATS=FILE) as a table, like vmstat; --follow (tools/stat_cmd.c). */
int vmk_cmd_stat(int argc, char **argv);
