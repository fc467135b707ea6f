/* A packet on a workload's host-side interface, as the TC backstop reads it:
 * skb->data starts at the Ethernet header (veth). Only what the backstop
 * decides on: family, addresses (v4-mapped), L4 protocol, ports, TCP flags,
 * the ICMP type and echo identifier. IPv6 extension headers are not walked: the protocol is
 * then the extension's, which matches no registry entry (fail closed).
 * VLAN-tagged frames are not read at all (egressd_packet_is_vlan); IPv4
 * packets with a source-route option are refused (egressd_ipv4_options_ok). */
#ifndef EGRESSD_BPF_TC_PACKET_H
#define EGRESSD_BPF_TC_PACKET_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/addr.h"
#include "lib/ip_options.h"

#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif

#define EGRESSD_TCP_FLAG_SYN 0x02
#define EGRESSD_TCP_FLAG_ACK 0x10

struct egressd_packet {
	struct egressd_addr src;
	struct egressd_addr dst;
	__u16 sport; /* host byte order; 0 without ports */
	__u16 dport;
	__u8 protocol;   /* IPPROTO_* (the first header after IP) */
	__u8 tcp_flags;  /* TCP only */
	__u8 icmp_type;  /* ICMP and ICMPv6 */
	__u8 later_fragment; /* IPv4 fragment other than the first: no ports */
	__u8 hop_limit;  /* IPv4 TTL, IPv6 hop limit */
	__u16 icmp_echo_id; /* meaningful for echo request/reply only */
	__u32 l3_len;    /* bytes from the IP header on */
};

enum egressd_packet_kind {
	EGRESSD_PACKET_IP = 0,
	EGRESSD_PACKET_NOT_IP = 1,   /* ARP and other non-IP frames */
	EGRESSD_PACKET_MALFORMED = 2, /* cut short, VLAN-tagged, or IPv4 source-routed */
};

static __always_inline int egressd_packet_is_echo_request(const struct egressd_packet *p)
{
	return (p->protocol == IPPROTO_ICMP && p->icmp_type == 8) ||
	       (p->protocol == IPPROTO_ICMPV6 && p->icmp_type == 128);
}

static __always_inline int egressd_packet_is_echo_reply(const struct egressd_packet *p)
{
	return (p->protocol == IPPROTO_ICMP && p->icmp_type == 0) ||
	       (p->protocol == IPPROTO_ICMPV6 && p->icmp_type == 129);
}

static __always_inline int egressd_packet_ports(struct __sk_buff *skb, __u32 l4, struct egressd_packet *p)
{
	__u8 h[14];

	if (p->protocol == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, l4, h, 14) < 0)
			return -1;
		p->tcp_flags = h[13];
	} else if (p->protocol == IPPROTO_UDP) {
		if (bpf_skb_load_bytes(skb, l4, h, 4) < 0)
			return -1;
	} else if (p->protocol == IPPROTO_ICMP || p->protocol == IPPROTO_ICMPV6) {
		/* Every ICMP message has these 8 bytes: type, code, checksum, and
		 * (echo) identifier, sequence. */
		if (bpf_skb_load_bytes(skb, l4, h, 8) < 0)
			return -1;
		p->icmp_type = h[0];
		p->icmp_echo_id = ((__u16)h[4] << 8) | h[5];
		return 0;
	} else {
		return 0;
	}
	p->sport = ((__u16)h[0] << 8) | h[1];
	p->dport = ((__u16)h[2] << 8) | h[3];
	return 0;
}

#define EGRESSD_ETH_P_QINQ_OLD 0x9100 /* pre-standard QinQ outer tag */

/* A VLAN tag, in the frame (0x8100, 0x88a8, 0x9100) or already taken out of
 * it by the kernel (skb->vlan_present: the outer tag of a double-tagged
 * frame is stripped before TC runs, and the node strips a VID 0 inner one
 * after it). A pod's veth carries no tags: such a frame is refused whole,
 * never read as "not IP". */
static __always_inline int egressd_packet_is_vlan(const struct __sk_buff *skb)
{
	return skb->vlan_present || skb->protocol == bpf_htons(ETH_P_8021Q) ||
	       skb->protocol == bpf_htons(ETH_P_8021AD) || skb->protocol == bpf_htons(EGRESSD_ETH_P_QINQ_OLD);
}

/* A global function: the verifier checks it once, not once per path of
 * each TC program that calls it. */
__noinline int egressd_parse_packet(struct __sk_buff *skb, struct egressd_packet *p)
{
	if (!p)
		return EGRESSD_PACKET_MALFORMED;
	__builtin_memset(p, 0, sizeof(*p));
	if (skb->len < ETH_HLEN || egressd_packet_is_vlan(skb))
		return EGRESSD_PACKET_MALFORMED;
	p->l3_len = skb->len - ETH_HLEN;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0 || ip.ihl < 5)
			return EGRESSD_PACKET_MALFORMED;
		if (ip.ihl > 5 && !egressd_ipv4_options_ok(skb, ETH_HLEN, ip.ihl))
			return EGRESSD_PACKET_MALFORMED; /* may be source-routed */
		p->protocol = ip.protocol;
		p->hop_limit = ip.ttl;
		p->src = egressd_addr_v4(ip.saddr);
		p->dst = egressd_addr_v4(ip.daddr);
		if (ip.frag_off & bpf_htons(0x1fff)) {
			p->later_fragment = 1;
			return EGRESSD_PACKET_IP;
		}
		return egressd_packet_ports(skb, ETH_HLEN + ip.ihl * 4, p) < 0 ? EGRESSD_PACKET_MALFORMED
										    : EGRESSD_PACKET_IP;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)) < 0)
			return EGRESSD_PACKET_MALFORMED;
		p->protocol = ip6.nexthdr;
		p->hop_limit = ip6.hop_limit;
		__builtin_memcpy(p->src.w, &ip6.saddr, 16);
		__builtin_memcpy(p->dst.w, &ip6.daddr, 16);
		return egressd_packet_ports(skb, ETH_HLEN + sizeof(ip6), p) < 0 ? EGRESSD_PACKET_MALFORMED
										 : EGRESSD_PACKET_IP;
	}
	return EGRESSD_PACKET_NOT_IP;
}

/* Traffic that never leaves the link: link-local unicast, link-scope
 * multicast (224.0.0.0/24; ff01::/16 and ff02::/16), IPv4 limited
 * broadcast. The backstop leaves it alone, as a pod needs it to reach its
 * gateway at all. Wider multicast can be routed: the registry decides it. */
static __always_inline int egressd_packet_is_link_scope(const struct egressd_packet *p)
{
	const struct egressd_addr *d = &p->dst;

	if (egressd_addr_is_v4mapped(d)) {
		__u32 ip = bpf_ntohl(d->w[3]);
		return ip == 0xffffffff || (ip >> 8) == 0xe00000;
	}
	__u32 w0 = bpf_ntohl(d->w[0]);
	if ((w0 >> 24) == 0xff)
		return ((w0 >> 16) & 0xf) <= 2; /* multicast scope: interface or link */
	return (w0 >> 22) == (0xfe80 >> 6);
}

/* IPv6 neighbour discovery (RS, RA, NS, NA, redirect). To link-local and
 * link-scope multicast addresses it is link scope above; to any other
 * address (NUD of a neighbour known by its global address) the backstop
 * checks it cannot leave the link (egressd_tc_nd_stays_on_link). */
static __always_inline int egressd_packet_is_nd(const struct egressd_packet *p)
{
	return p->protocol == IPPROTO_ICMPV6 && p->icmp_type >= 133 && p->icmp_type <= 137;
}

#endif /* EGRESSD_BPF_TC_PACKET_H */
