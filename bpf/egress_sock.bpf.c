// SPDX-License-Identifier: GPL-2.0
/* Socket-level egress enforcement: cgroup sock_addr hooks, attached once at
 * the cgroup root. Entry points only gather the context; lib/policy.h decides.
 * Returning 0 makes connect()/sendmsg() fail with EPERM. The cgroup_skb pair
 * at the end learns DNS answers (lib/dns_learn.h); same object, same maps. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "lib/addr.h"
#include "lib/counters.h"
#include "lib/ip_options.h"
#include "lib/dns_learn.h"
#include "lib/flows.h"
#include "lib/gateway.h"
#include "lib/identity.h"
#include "lib/inbound.h"
#include "lib/maps.h"
#include "lib/policy.h"
#include "lib/sock_create.h"
#include "lib/tc_backstop.h"
#include "lib/udp_connect.h"

#ifndef SOCK_STREAM
#define SOCK_STREAM 1
#endif
#ifndef SOCK_DGRAM
#define SOCK_DGRAM 2
#endif

char LICENSE[] SEC("license") = "GPL";

#define EGRESSD_ALLOW 1
#define EGRESSD_DENY 0

/* The L4 protocol a policy entry is keyed by. Only TCP (and MPTCP, which is
 * TCP on the wire) streams and UDP datagrams map to a protocol; anything
 * else that reaches these hooks (SCTP, ICMP ping sockets, UDP-Lite) gets 0,
 * which matches no registry entry: allowed only by ALLOW_ANY or loopback. */
static __always_inline __u8 egressd_l4_protocol(const struct bpf_sock_addr *ctx)
{
	__u32 type = ctx->type;
	__u32 protocol = ctx->protocol;

	if (type == SOCK_STREAM && (protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP))
		return IPPROTO_TCP;
	if (type == SOCK_DGRAM && protocol == IPPROTO_UDP)
		return IPPROTO_UDP;
	return 0;
}

/* can_redirect: connect hooks only. A redirect at sendmsg (never compiled:
 * Istio does not route UDP) is denied rather than sent around the gateway. */
static __always_inline int egressd_handle(struct bpf_sock_addr *ctx, __u32 hook,
					  struct egressd_addr dst, int can_redirect)
{
	__u64 cgroup_id = 0;
	const struct egressd_workload_value *w = egressd_find_workload_id(&cgroup_id);
	/* As connect() got them: a redirect rewrites ctx to the gateway's. */
	struct egressd_addr original = dst;
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	struct egressd_decision d;
	__u32 workload_flags;
	__u32 scope_id;
	__u8 l4;
	int in;

	if (w) {
		workload_flags = w->flags;
		scope_id = w->scope_id;
	} else if ((in = egressd_in_unknown_workload(&cgroup_id)) != EGRESSD_IN_NO_WORKLOAD) {
		/* No workload, but below a pods parent: the init policy. Or
		 * an enforced workload without its entry: no scope. */
		workload_flags = in == EGRESSD_IN_UNKNOWN_POD ? EGRESSD_WORKLOAD_F_UNKNOWN : 0;
		scope_id = EGRESSD_SCOPE_NONE;
	} else {
		egressd_count(hook, EGRESSD_REASON_NOT_WORKLOAD, 1);
		return EGRESSD_ALLOW;
	}
	l4 = egressd_l4_protocol(ctx);
	d = egressd_decide(scope_id, workload_flags, &dst, port, l4);
	if (d.verdict == EGRESSD_VERDICT_REDIRECTED &&
	    (!can_redirect || egressd_redirect_connect(ctx, d.gateway_id, &dst, hook == EGRESSD_HOOK_CONNECT6)))
		d.verdict = EGRESSD_VERDICT_DENIED;
	/* A UDP server answering a client that wrote to it (lib/inbound.h). */
	if (d.verdict == EGRESSD_VERDICT_DENIED && l4 == IPPROTO_UDP && ctx->sk &&
	    egressd_is_inbound_reply(cgroup_id, &original, port, (__u16)ctx->sk->src_port))
		d = egressd_decision(EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_INBOUND_REPLY);
	if (d.verdict == EGRESSD_VERDICT_DENIED && (workload_flags & EGRESSD_WORKLOAD_F_AUDIT)) {
		/* Audit: let it through; the reason's `allowed` counter records it. */
		d.verdict = EGRESSD_VERDICT_AUDIT;
	}
	/* A UDP connect() sends nothing: its socket's datagrams are held to
	 * the decision and recorded (lib/udp_connect.h). */
	if (can_redirect && l4 == IPPROTO_UDP &&
	    egressd_udp_connect_defer(ctx, cgroup_id, &original, port, &d, scope_id, hook))
		return EGRESSD_ALLOW;
	egressd_count(hook, d.reason, d.verdict != EGRESSD_VERDICT_DENIED);
	/* The original destination (not the gateway), keyed by the wire
	 * protocol as TC sees it (ICMP ping sockets too). */
	egressd_flow_record(cgroup_id, &original, port, l4 ? l4 : (__u8)ctx->protocol,
			    d.verdict, d.reason, scope_id, (__u8)hook);
	return d.verdict == EGRESSD_VERDICT_DENIED ? EGRESSD_DENY : EGRESSD_ALLOW;
}

static __always_inline struct egressd_addr egressd_addr_from_ctx6(const struct bpf_sock_addr *ctx)
{
	struct egressd_addr a = {
		.w = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] }
	};
	return a;
}

SEC("cgroup/connect4")
int egressd_connect4(struct bpf_sock_addr *ctx)
{
	return egressd_handle(ctx, EGRESSD_HOOK_CONNECT4, egressd_addr_v4(ctx->user_ip4), 1);
}

/* Also v4-mapped destinations on AF_INET6 sockets: the trie stores IPv4
 * v4-mapped, so the same lookup serves them. */
SEC("cgroup/connect6")
int egressd_connect6(struct bpf_sock_addr *ctx)
{
	return egressd_handle(ctx, EGRESSD_HOOK_CONNECT6, egressd_addr_from_ctx6(ctx), 1);
}

/* Unconnected UDP (connected sockets were checked at connect). A v4-mapped
 * sendto() on an AF_INET6 socket reaches sendmsg4. */
SEC("cgroup/sendmsg4")
int egressd_sendmsg4(struct bpf_sock_addr *ctx)
{
	return egressd_handle(ctx, EGRESSD_HOOK_SENDMSG4, egressd_addr_v4(ctx->user_ip4), 0);
}

SEC("cgroup/sendmsg6")
int egressd_sendmsg6(struct bpf_sock_addr *ctx)
{
	return egressd_handle(ctx, EGRESSD_HOOK_SENDMSG6, egressd_addr_from_ctx6(ctx), 0);
}

/* A redirected socket's peer is the original destination (lib/gateway.h).
 * getpeername hooks cannot fail the call: always 1. */
SEC("cgroup/getpeername4")
int egressd_getpeername4(struct bpf_sock_addr *ctx)
{
	egressd_restore_peer(ctx, 0);
	return 1;
}

SEC("cgroup/getpeername6")
int egressd_getpeername6(struct bpf_sock_addr *ctx)
{
	egressd_restore_peer(ctx, 1);
	return 1;
}

/* DNS learning (lib/dns_learn.h): queries on the way out, answers on the way
 * in, before the socket can read them. On the way out, also the datagrams of
 * UDP sockets whose connect() was left to their sends (lib/udp_connect.h). On the way in, also the peers of UDP
 * servers (lib/inbound.h), whose answers then pass. */
SEC("cgroup_skb/egress")
int egressd_dns_egress(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct egressd_l4 p;

	/* A workload socket's IPv4 source route (lib/ip_options.h): dropped,
	 * the sender gets EPERM. skb->data is the IP header here. */
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
		if (data + 1 <= end) {
			__u8 ihl = *(__u8 *)data & 0xf;
			if (ihl > 5 && !egressd_ipv4_options_ok(skb, 0, ihl) && egressd_find_workload_skb(skb))
				return 0;
		}
	}
	if (egressd_parse_l4(skb, &p) < 0)
		return 1;
	/* Also datagrams of connected UDP sockets (lib/udp_connect.h). */
	if (!egressd_udp_connected_send(skb, &p, cookie))
		return 0;
	return egressd_dns_on_egress(skb, &p, cookie);
}

SEC("cgroup_skb/ingress")
int egressd_dns_ingress(struct __sk_buff *skb)
{
	struct egressd_rx_sock rs;
	struct egressd_l4 p;

	if (egressd_parse_l4(skb, &p) < 0 || egressd_rx_sock_of(skb, &rs) < 0)
		return 1;
	egressd_note_inbound_udp(skb, &p, &rs);
	return egressd_dns_on_ingress(skb, &p, &rs, bpf_get_socket_cookie(skb));
}

/* The packet backstop and byte counters (lib/tc_backstop.h), attached by
 * the agent to each workload's host-side interface: ingress there is what
 * the workload sends, egress what it receives. */
SEC("tc")
int egressd_tc_from_pod(struct __sk_buff *skb)
{
	return egressd_tc_from_workload(skb);
}

SEC("tc")
int egressd_tc_to_pod(struct __sk_buff *skb)
{
	return egressd_tc_to_workload(skb);
}

/* Raw and packet sockets of a workload whose TC backstop is not attached
 * yet are refused (lib/sock_create.h). Returning 0 fails socket() with EPERM. */
SEC("cgroup/sock_create")
int egressd_sock_create(struct bpf_sock *sk)
{
	__u32 family = sk->family, type = sk->type;

	return egressd_raw_socket_allowed(family, type, bpf_get_netns_cookie(sk));
}


/* Sockets going away: a redirected one's state is deleted (always, flow
 * stats or not); a workload's counts in `closes` of its flow, for
 * istio_tcp_connections_closed_total. Runs in the closing task's context. */
SEC("cgroup/sock_release")
int egressd_sock_release(struct bpf_sock *sk)
{
	/* Every ctx field read first, each at its own offset: the verifier
	 * rejects loads through a ctx pointer clang has offset. */
	__u32 family = sk->family, protocol = sk->protocol, port = sk->dst_port, ip4 = sk->dst_ip4;
	__u32 a0 = sk->dst_ip6[0];
	__u32 a1 = sk->dst_ip6[1];
	__u32 a2 = sk->dst_ip6[2];
	__u32 a3 = sk->dst_ip6[3];
	struct egressd_flow_key key = {};
	struct egressd_flow_value *v;
	struct egressd_addr dst = { .w = { a0, a1, a2, a3 } };
	__u64 cgroup_id = 0;
	__u64 cookie = bpf_get_socket_cookie(sk);

	egressd_forget_redirect(cookie);
	/* A UDP socket whose allowed connect never sent has no flow to close
	 * (lib/udp_connect.h): no lookup of a destination it never used. */
	if (egressd_udp_pending_forget(cookie))
		return 1;
	if (!flow_stats_enabled || !port)
		return 1;
	if (!egressd_find_workload_id(&cgroup_id))
		return 1;
	if (family == 2 /* AF_INET */)
		dst = egressd_addr_v4(ip4);
	key.cgroup_id = cgroup_id;
	__builtin_memcpy(key.addr, dst.w, sizeof(key.addr));
	key.port = bpf_ntohs((__u16)port);
	key.protocol = (__u8)protocol;
	v = bpf_map_lookup_elem(&flows, &key);
	if (v)
		__sync_fetch_and_add(&v->closes, 1);
	return 1;
}
