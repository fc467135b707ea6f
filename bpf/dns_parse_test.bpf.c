// Test and benchmark harness for bpf/lib/dns_parse.h: finds the UDP payload of
// an IPv4/IPv6 packet the way the real cgroup_skb/ingress hook will, parses it
// and stores the result where user space can compare it with the twin.
// cgroup_skb because that is the learning hook and BPF_PROG_TEST_RUN supports
// it: the test input is an Ethernet frame and skb->data starts at L3.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/dns_parse.h"
#include "lib/skb_copy.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_msg);
} dns_scratch SEC(".maps");

// One slot: BPF_PROG_TEST_RUN runs on one CPU, and user space reads it after.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_parse_result);
} dns_results SEC(".maps");

// Status for packets that never reach the parser (not UDP, bad headers).
#define DNS_TEST_NO_PAYLOAD 0xff

// Offset and length of the UDP payload, or -1. IPv6 extension headers are
// not walked: resolvers do not send them, and the real hook punts them.
static __always_inline int udp_payload(struct __sk_buff *skb, __u32 *off, __u32 *len)
{
	__u32 l4;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
			return -1;
		if (ip.protocol != IPPROTO_UDP || ip.ihl < 5)
			return -1;
		if (ip.frag_off & bpf_htons(0x3fff)) /* MF or offset: fragment */
			return -1;
		l4 = ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
			return -1;
		if (ip6.nexthdr != IPPROTO_UDP)
			return -1;
		l4 = sizeof(ip6);
	} else {
		return -1;
	}
	struct udphdr udp;
	if (bpf_skb_load_bytes(skb, l4, &udp, sizeof(udp)) < 0)
		return -1;
	__u32 ulen = bpf_ntohs(udp.len);
	if (ulen < sizeof(udp) || l4 + ulen > skb->len)
		return -1;
	*off = l4 + sizeof(udp);
	*len = ulen - sizeof(udp);
	return 0;
}

SEC("cgroup_skb/ingress")
int dns_parse_prog(struct __sk_buff *skb)
{
	__u32 zero = 0, off, len;
	struct dns_msg *s = bpf_map_lookup_elem(&dns_scratch, &zero);
	struct dns_parse_result *res = bpf_map_lookup_elem(&dns_results, &zero);
	if (!s || !res)
		return 1;
	if (udp_payload(skb, &off, &len) < 0) {
		res->status = DNS_TEST_NO_PAYLOAD;
		return 1;
	}
	if (len > DNS_MSG_MAX) { /* the parser's own check, before the copy */
		dns_parse(s, len, res);
		return 1;
	}
	if (egressd_skb_copy(skb, off, s->data, len, DNS_MSG_MAX) < 0) {
		res->status = DNS_TEST_NO_PAYLOAD;
		return 1;
	}
	dns_parse(s, len, res);
	return 1;
}

// Copy only: the cost of getting the payload, to separate it from the parse.
SEC("cgroup_skb/ingress")
int dns_copy_prog(struct __sk_buff *skb)
{
	__u32 zero = 0, off, len;
	struct dns_msg *s = bpf_map_lookup_elem(&dns_scratch, &zero);
	if (!s || udp_payload(skb, &off, &len) < 0)
		return 1;
	egressd_skb_copy(skb, off, s->data, len, DNS_MSG_MAX);
	return 1;
}

// Empty baseline: what BPF_PROG_TEST_RUN itself costs per run.
SEC("cgroup_skb/ingress")
int dns_empty_prog(struct __sk_buff *skb)
{
	return 1;
}
