/* The IP and UDP/TCP headers of a cgroup_skb packet (skb->data starts at
 * the network header): addresses (v4-mapped), ports and where the payload
 * is. IPv6 extension headers and IP fragments are not walked: resolvers
 * don't send them, and cgroup_skb/ingress sees datagrams after reassembly. */
#ifndef EGRESSD_BPF_SKB_L4_H
#define EGRESSD_BPF_SKB_L4_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/addr.h"

/* Every network namespace's "lo": a packet that came in on it never left the
 * node, so a workload could have forged it. */
#define EGRESSD_LOOPBACK_IFINDEX 1

struct egressd_l4 {
	struct egressd_addr src;
	struct egressd_addr dst;
	__u16 sport; /* host byte order */
	__u16 dport;
	__u8 protocol; /* IPPROTO_UDP or IPPROTO_TCP */
	__u32 payload_off;
	__u32 payload_len;
	__u32 tcp_seq; /* host byte order, TCP only */
};

/* 0 on success; -1 for anything that is not a plain UDP or TCP packet. */
static __always_inline int egressd_parse_l4(struct __sk_buff *skb, struct egressd_l4 *p)
{
	__u32 l4;
	__u32 ip_end = skb->len;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
			return -1;
		if (ip.ihl < 5 || (ip.frag_off & bpf_htons(0x3fff)))
			return -1;
		p->protocol = ip.protocol;
		p->src = egressd_addr_v4(ip.saddr);
		p->dst = egressd_addr_v4(ip.daddr);
		l4 = ip.ihl * 4;
		if (bpf_ntohs(ip.tot_len) < ip_end)
			ip_end = bpf_ntohs(ip.tot_len);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
			return -1;
		p->protocol = ip6.nexthdr;
		__builtin_memcpy(p->src.w, &ip6.saddr, 16);
		__builtin_memcpy(p->dst.w, &ip6.daddr, 16);
		l4 = sizeof(ip6);
		if (sizeof(ip6) + bpf_ntohs(ip6.payload_len) < ip_end)
			ip_end = sizeof(ip6) + bpf_ntohs(ip6.payload_len);
	} else {
		return -1;
	}

	if (p->protocol == IPPROTO_UDP) {
		struct udphdr udp;
		if (bpf_skb_load_bytes(skb, l4, &udp, sizeof(udp)) < 0)
			return -1;
		__u32 ulen = bpf_ntohs(udp.len);
		if (ulen < sizeof(udp) || l4 + ulen > skb->len)
			return -1;
		p->sport = bpf_ntohs(udp.source);
		p->dport = bpf_ntohs(udp.dest);
		p->payload_off = l4 + sizeof(udp);
		p->payload_len = ulen - sizeof(udp);
		p->tcp_seq = 0;
		return 0;
	}
	if (p->protocol == IPPROTO_TCP) {
		struct tcphdr tcp;
		if (bpf_skb_load_bytes(skb, l4, &tcp, sizeof(tcp)) < 0)
			return -1;
		__u32 doff = tcp.doff * 4;
		if (doff < sizeof(tcp) || l4 + doff > ip_end)
			return -1;
		p->sport = bpf_ntohs(tcp.source);
		p->dport = bpf_ntohs(tcp.dest);
		p->payload_off = l4 + doff;
		p->payload_len = ip_end - (l4 + doff);
		p->tcp_seq = bpf_ntohl(tcp.seq);
		return 0;
	}
	return -1;
}

#endif /* EGRESSD_BPF_SKB_L4_H */
