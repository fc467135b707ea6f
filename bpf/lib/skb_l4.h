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

/* __sk_buff.pkt_type (linux/if_packet.h): only PACKET_HOST is a unicast
 * that came in from the wire. The node's own broadcasts and multicasts are
 * delivered to its own sockets as PACKET_LOOPBACK copies that arrive on the
 * interface they were sent by (eth0, not lo), and they never passed a
 * socket's egress hook when a raw socket sent them. */
#define EGRESSD_PACKET_HOST 0

struct egressd_l4 {
	struct egressd_addr src;
	struct egressd_addr dst;
	__u16 sport; /* host byte order */
	__u16 dport;
	__u8 protocol; /* IPPROTO_UDP or IPPROTO_TCP */
	__u32 payload_off;
	__u32 payload_len;
	__u32 tcp_seq; /* host byte order, TCP only */
	__u8 tcp_syn;  /* TCP only: the SYN flag */
};

/* The socket a cgroup_skb/ingress packet is being delivered to: its local
 * address (v4-mapped for AF_INET; all zero when bound to any) and port. */
struct egressd_rx_sock {
	struct egressd_addr addr;
	__u16 port;      /* host byte order */
	__u8 protocol;   /* the socket's: IPPROTO_UDP, IPPROTO_TCP, ... */
	__u8 connected;  /* it has a peer (connect()ed UDP, a TCP connection) */
};

/* 0 on success; -1 when the packet has no full socket (nothing to learn for). */
static __always_inline int egressd_rx_sock_of(struct __sk_buff *skb, struct egressd_rx_sock *rs)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return -1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return -1;
	/* One field per load: the verifier rejects offset ctx-like loads. */
	__u32 family = sk->family, protocol = sk->protocol, port = sk->src_port, dport = sk->dst_port;
	__u32 a0 = sk->src_ip6[0];
	__u32 a1 = sk->src_ip6[1];
	__u32 a2 = sk->src_ip6[2];
	__u32 a3 = sk->src_ip6[3];
	__u32 ip4 = sk->src_ip4;

	if (family == 2 /* AF_INET */) {
		rs->addr = ip4 ? egressd_addr_v4(ip4) : (struct egressd_addr){};
	} else {
		struct egressd_addr a = { .w = { a0, a1, a2, a3 } };
		rs->addr = a;
	}
	rs->port = (__u16)port;
	rs->protocol = (__u8)protocol;
	rs->connected = dport != 0;
	return 0;
}

/* Broadcast (255.255.255.255) and multicast destinations (224/4, ff00::/8). */
static __always_inline int egressd_addr_is_group(const struct egressd_addr *a)
{
	if (egressd_addr_is_v4mapped(a))
		return a->w[3] == 0xffffffff || (bpf_ntohl(a->w[3]) >> 28) == 0xe;
	return (bpf_ntohl(a->w[0]) >> 24) == 0xff;
}

/* Was this packet sent to this socket from off the namespace? A unicast
 * (pkt_type PACKET_HOST: not a looped-back copy of the node's own broadcast
 * or multicast, not a broadcast or multicast from the wire), not on lo, to
 * the socket's own address and port. Anything else a workload with a raw
 * socket can make itself, with any source address it likes. Learning from
 * a packet (DNS answers, inbound UDP peers) requires this. Global
 * subprogram: verified once, not in each of its callers' states. */
__attribute__((noinline)) int egressd_rx_is_unicast_to(struct __sk_buff *skb, const struct egressd_l4 *p,
						       const struct egressd_rx_sock *rs)
{
	if (!p || !rs)
		return 0;
	if (skb->ingress_ifindex == EGRESSD_LOOPBACK_IFINDEX || skb->pkt_type != EGRESSD_PACKET_HOST)
		return 0;
	if (egressd_addr_is_group(&p->dst) || p->dport != rs->port)
		return 0;
	if (rs->addr.w[0] | rs->addr.w[1] | rs->addr.w[2] | rs->addr.w[3])
		return egressd_addr_equals(rs->addr.w, &p->dst);
	return 1; /* bound to any address: the kernel delivered a unicast to one of ours */
}

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
		p->tcp_syn = 0;
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
		p->tcp_syn = tcp.syn;
		return 0;
	}
	return -1;
}

#endif /* EGRESSD_BPF_SKB_L4_H */
