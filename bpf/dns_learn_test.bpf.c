// SPDX-License-Identifier: GPL-2.0
/* Test and benchmark harness for lib/dns_learn.h: the production learning
 * code with the socket cookie taken from `test_cookie` instead of the socket.
 * BPF_PROG_TEST_RUN gives each run a fresh dummy socket (so a fresh cookie);
 * a fixed one lets a query run and its answer run pair up as on one socket.
 * Its maps are its own: tests fill them by hand. The dummy socket belongs to
 * the test process's cgroup, so registering that cgroup makes it a workload. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/dns_learn.h"

char LICENSE[] SEC("license") = "GPL";

volatile __u64 test_cookie = 1;
/* The receiving socket as the production hook reads it from skb->sk (the
 * test run's dummy socket has none of this): bound to any, the answers'
 * client port (tests/fixtures/dns_packets.h), unless a test sets them. */
volatile __u32 test_local_addr[4];
volatile __u16 test_local_port = 40000;

SEC("cgroup_skb/egress")
int dns_learn_egress(struct __sk_buff *skb)
{
	struct egressd_l4 p;

	if (egressd_parse_l4(skb, &p) < 0)
		return 1;
	return egressd_dns_on_egress(skb, &p, test_cookie);
}

SEC("cgroup_skb/ingress")
int dns_learn_ingress(struct __sk_buff *skb)
{
	struct egressd_rx_sock rs = {
		.addr = { .w = { test_local_addr[0], test_local_addr[1], test_local_addr[2], test_local_addr[3] } },
		.port = test_local_port,
		.protocol = IPPROTO_UDP,
	};
	struct egressd_l4 p;

	if (egressd_parse_l4(skb, &p) < 0)
		return 1;
	return egressd_dns_on_ingress(skb, &p, &rs, test_cookie);
}

/* Benchmark baseline: what BPF_PROG_TEST_RUN itself costs per run. */
SEC("cgroup_skb/ingress")
int dns_learn_empty(struct __sk_buff *skb)
{
	return 1;
}
