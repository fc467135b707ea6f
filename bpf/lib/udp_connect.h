/* A connected UDP socket is held at its sends, not at connect().
 *
 * A UDP connect() sends nothing. glibc's getaddrinfo() connect()s a UDP
 * socket to every address it returns, on the caller's port, to sort them
 * (RFC 6724), and closes it without sending. Denying those connects showed
 * every lookup of a host with two or more addresses as denied UDP flows (in
 * the access log, the denial counters, and audit mode's `suggest`), and hid
 * from glibc which addresses are reachable.
 *
 * So a UDP connect() that the policy would deny or audit passes, and the
 * socket keeps the decision (`udp_connect_verdicts`). cgroup_skb/egress
 * applies it to each datagram the socket sends to that destination: dropped
 * (send() fails with EPERM) and counted as a denial, or passed and counted
 * as audit, on the connect hook's counters and the flow, as a sendto() would
 * be. A later connect() somewhere allowed clears it. */
#ifndef EGRESSD_BPF_UDP_CONNECT_H
#define EGRESSD_BPF_UDP_CONNECT_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "lib/addr.h"
#include "lib/counters.h"
#include "lib/flows.h"
#include "lib/maps.h"
#include "lib/policy.h"
#include "lib/skb_l4.h"

/* At a UDP connect(): 1 when the decision is left to the socket's sends
 * (the connect passes, unrecorded); 0 to decide now, as for any connect:
 * an allowed one (which clears what an earlier connect left), or when the
 * socket's storage can't be had. */
static __always_inline int egressd_udp_connect_defer(struct bpf_sock *sk, __u64 cgroup_id,
						     const struct egressd_addr *dst, __u16 port,
						     const struct egressd_decision *d, __u32 scope_id, __u32 hook)
{
	struct egressd_udp_connect_verdict *v;

	if (d->verdict != EGRESSD_VERDICT_DENIED && d->verdict != EGRESSD_VERDICT_AUDIT) {
		v = bpf_sk_storage_get(&udp_connect_verdicts, sk, 0, 0);
		if (v)
			v->active = 0;
		return 0;
	}
	v = bpf_sk_storage_get(&udp_connect_verdicts, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!v)
		return 0;
	v->cgroup_id = cgroup_id;
	__builtin_memcpy(v->addr, dst->w, sizeof(v->addr));
	v->port = port;
	v->verdict = (__u8)d->verdict;
	v->reason = d->reason;
	v->scope_id = scope_id;
	v->hook = hook;
	v->active = 1;
	return 1;
}

/* At cgroup_skb/egress: 0 drops a datagram of a connected socket whose
 * connect() was left to its sends (lib comment above); 1 passes the rest. */
static __always_inline int egressd_udp_connected_send(struct __sk_buff *skb, const struct egressd_l4 *p)
{
	struct egressd_udp_connect_verdict *v;
	struct egressd_addr dst;
	struct bpf_sock *sk;

	if (p->protocol != IPPROTO_UDP || !skb->sk)
		return 1;
	sk = bpf_sk_fullsock(skb->sk);
	if (!sk)
		return 1;
	v = bpf_sk_storage_get(&udp_connect_verdicts, sk, 0, 0);
	if (!v || !v->active || v->port != p->dport)
		return 1;
	__builtin_memcpy(dst.w, v->addr, sizeof(dst.w));
	/* A sendto() elsewhere on the connected socket was decided by sendmsg. */
	if (dst.w[0] != p->dst.w[0] || dst.w[1] != p->dst.w[1] || dst.w[2] != p->dst.w[2] || dst.w[3] != p->dst.w[3])
		return 1;
	egressd_count(v->hook, v->reason, v->verdict != EGRESSD_VERDICT_DENIED);
	egressd_flow_record(v->cgroup_id, &dst, v->port, IPPROTO_UDP, v->verdict, v->reason, v->scope_id,
			    (__u8)v->hook);
	return v->verdict != EGRESSD_VERDICT_DENIED;
}

#endif /* EGRESSD_BPF_UDP_CONNECT_H */
