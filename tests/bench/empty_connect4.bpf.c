// The floor egressd's connect path is compared with (scripts/bench.sh): a
// cgroup connect4 program that does nothing and allows. What it costs is the
// kernel's price for running any BPF program at connect().
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

SEC("cgroup/connect4")
int empty_connect4(struct bpf_sock_addr* ctx) { return 1; }

char LICENSE[] SEC("license") = "GPL";
