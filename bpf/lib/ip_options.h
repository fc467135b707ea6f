/* IPv4 source routing, refused on both paths that see a workload's packets:
 * the TC backstop (lib/tc_packet.h) and cgroup_skb/egress (a socket's
 * IP_OPTIONS need no privilege, and its packets leave for the option's first
 * address, not the one connect()/sendmsg decided on). */
#ifndef EGRESSD_BPF_IP_OPTIONS_H
#define EGRESSD_BPF_IP_OPTIONS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define EGRESSD_IPOPT_LSRR 0x83
#define EGRESSD_IPOPT_SSRR 0x89
#define EGRESSD_IPOPT_MAX_BYTES 40

/* IPv4 options of the header at l3_off (ihl > 5): 0 if they may hold a
 * source route. A loose or strict source
 * route (RFC 791) makes a router forward the packet to the next address of
 * the option, not to the destination the backstop decided on: a node that
 * forwards with accept_source_route=1 would carry it past the decision
 * (RFC 7126: drop them). Walking options to their boundaries costs the
 * verifier a path per option layout, so every option byte is compared: a
 * byte 0x83 or 0x89 anywhere (also inside another option's data) drops the
 * packet. Fail closed, and options are rare; Router Alert (IGMP) passes. */
static __always_inline int egressd_ipv4_options_ok(struct __sk_buff *skb, __u32 l3_off, __u32 ihl)
{
	__u8 opts[EGRESSD_IPOPT_MAX_BYTES];
	__u32 n = (ihl - 5) * 4;

	if (n == 0 || n > EGRESSD_IPOPT_MAX_BYTES || bpf_skb_load_bytes(skb, l3_off + 20, opts, n) < 0)
		return 0;
	for (int k = 0; k < EGRESSD_IPOPT_MAX_BYTES; k++) {
		if (k >= n)
			break;
		if (opts[k] == EGRESSD_IPOPT_LSRR || opts[k] == EGRESSD_IPOPT_SSRR)
			return 0;
	}
	return 1;
}

#endif /* EGRESSD_BPF_IP_OPTIONS_H */
