/* Connected UDP sockets: decided at connect(), recorded at their sends.
 *
 * A UDP connect() sends nothing. glibc's getaddrinfo() connect()s a UDP
 * socket to every address it returns, on the caller's port, to sort them
 * (RFC 6724), and closes it without sending. Recording those connects showed
 * every lookup of a host with two or more addresses as UDP flows (denied
 * ones in the access log, the denial counters and audit mode's `suggest`),
 * and denying them hid from glibc which addresses are reachable.
 *
 * Denied or audited: every datagram must be held to the decision. The
 * connect passes and the socket keeps it in socket storage
 * (`udp_connect_verdicts`); cgroup_skb/egress applies it to each datagram to
 * that destination: dropped (send() fails with EPERM) and counted as a
 * denial, or passed and counted as audit.
 *
 * Allowed: nothing to hold, only the flow to record. The connect claims the
 * socket's slot in `udp_pending` (an array write, as `redirected_slots`) and
 * the flow is recorded at the socket's first datagram there: a connect that
 * never sends leaves nothing, and a new destination's flow-table insert is
 * paid by the send that uses it. A slot another socket holds: recorded at
 * the connect, as before (counted: EGRESSD_FLOW_UDP_PENDING_FALLBACK).
 *
 * Either way the counters and the flow name the connect hook, as a sendto()
 * names sendmsg; a later connect() replaces what an earlier one left. */
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

_Static_assert((EGRESSD_UDP_PENDING_SLOTS & (EGRESSD_UDP_PENDING_SLOTS - 1)) == 0,
	       "EGRESSD_UDP_PENDING_SLOTS must be a power of two");

/* The slot a cookie maps to; NULL for cookie 0, which marks a free slot. */
static __always_inline struct egressd_udp_pending_slot *egressd_udp_pending_slot_of(__u64 cookie)
{
	__u32 index = (__u32)cookie & (EGRESSD_UDP_PENDING_SLOTS - 1);

	if (!cookie)
		return NULL;
	return bpf_map_lookup_elem(&udp_pending, &index);
}

/* Frees the socket's slot if it holds one (its datagram was recorded, or it
 * closes, or it connects somewhere denied). 1 if this call freed it. */
static __always_inline int egressd_udp_pending_release(struct egressd_udp_pending_slot *slot, __u64 cookie)
{
	return slot && __sync_val_compare_and_swap(&slot->cookie, cookie, 0) == cookie;
}

/* At cgroup/sock_release: 1 if the socket still held its slot (it never
 * sent after its last connect). */
static __always_inline int egressd_udp_pending_forget(__u64 cookie)
{
	return egressd_udp_pending_release(egressd_udp_pending_slot_of(cookie), cookie);
}

static __always_inline void egressd_udp_decision_set(struct egressd_udp_connect_decision *x, __u64 cgroup_id,
						     const struct egressd_addr *dst, __u16 port,
						     const struct egressd_decision *d, __u32 scope_id, __u32 hook)
{
	x->cgroup_id = cgroup_id;
	__builtin_memcpy(x->addr, dst->w, sizeof(x->addr));
	x->port = port;
	x->verdict = (__u8)d->verdict;
	x->hook = (__u8)hook;
	x->reason = d->reason;
	x->scope_id = scope_id;
}

/* The datagram goes where the connect did (not a sendto() elsewhere, which
 * sendmsg decided). */
static __always_inline int egressd_udp_decision_covers(const struct egressd_udp_connect_decision *x,
						       const struct egressd_l4 *p)
{
	return x->port == p->dport && egressd_addr_equals(x->addr, &p->dst);
}

/* Counts and records the decision for a datagram; 1 if it passes. */
static __always_inline int egressd_udp_decision_apply(const struct egressd_udp_connect_decision *x,
						      const struct egressd_l4 *p)
{
	egressd_count(x->hook, x->reason, x->verdict != EGRESSD_VERDICT_DENIED);
	egressd_flow_record(x->cgroup_id, &p->dst, p->dport, IPPROTO_UDP, x->verdict, x->reason, x->scope_id,
			    x->hook);
	return x->verdict != EGRESSD_VERDICT_DENIED;
}

/* At a UDP connect(): 1 when the decision is left to the socket's sends (the
 * connect passes, counted and recorded nowhere yet); 0 to count and record
 * it now: no slot for an allowed one, no storage for a denied one, or a
 * verdict neither covers. */
static __always_inline int egressd_udp_connect_defer(struct bpf_sock_addr *ctx, __u64 cgroup_id,
						     const struct egressd_addr *dst, __u16 port,
						     const struct egressd_decision *d, __u32 scope_id, __u32 hook)
{
	struct egressd_udp_pending_slot *slot;
	struct egressd_udp_connect_verdict *v;
	struct bpf_sock *sk = ctx->sk;
	__u64 cookie;

	if (!sk)
		return 0;
	cookie = bpf_get_socket_cookie(ctx);
	slot = egressd_udp_pending_slot_of(cookie);
	if (d->verdict == EGRESSD_VERDICT_ALLOWED) {
		v = bpf_sk_storage_get(&udp_connect_verdicts, sk, 0, 0);
		if (v)
			v->active = 0;
		if (!flow_stats_enabled) /* nothing to record later */
			return 0;
		if (slot) {
			/* Free (0) -> ours, or ours already (a reconnect). */
			__u64 held = __sync_val_compare_and_swap(&slot->cookie, 0, cookie);

			if (held == 0 || held == cookie) {
				egressd_udp_decision_set(&slot->decision, cgroup_id, dst, port, d, scope_id, hook);
				return 1;
			}
		}
		egressd_flow_count(EGRESSD_FLOW_UDP_PENDING_FALLBACK);
		return 0;
	}
	if (d->verdict != EGRESSD_VERDICT_DENIED && d->verdict != EGRESSD_VERDICT_AUDIT)
		return 0;
	/* An earlier allowed connect that never sent: gone with this one. */
	egressd_udp_pending_release(slot, cookie);
	v = bpf_sk_storage_get(&udp_connect_verdicts, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!v)
		return 0;
	egressd_udp_decision_set(&v->decision, cgroup_id, dst, port, d, scope_id, hook);
	v->active = 1;
	return 1;
}

/* At cgroup_skb/egress, for a datagram of socket `cookie`: records a pending
 * allowed connect's flow at its first datagram, and applies a denied or
 * audited connect's decision. 0 drops the datagram; 1 passes it (and all
 * that is not UDP, or goes elsewhere). */
static __always_inline int egressd_udp_connected_send(struct __sk_buff *skb, const struct egressd_l4 *p,
						      __u64 cookie)
{
	struct egressd_udp_pending_slot *slot;
	struct egressd_udp_connect_verdict *v;
	struct bpf_sock *sk;

	if (p->protocol != IPPROTO_UDP)
		return 1;
	slot = egressd_udp_pending_slot_of(cookie);
	if (slot && slot->cookie == cookie && egressd_udp_decision_covers(&slot->decision, p)) {
		/* Read before the release: a freed slot may be claimed at once. */
		struct egressd_udp_connect_decision pending = slot->decision;

		if (egressd_udp_pending_release(slot, cookie))
			egressd_udp_decision_apply(&pending, p);
		return 1;
	}
	if (!skb->sk)
		return 1;
	sk = bpf_sk_fullsock(skb->sk);
	if (!sk)
		return 1;
	v = bpf_sk_storage_get(&udp_connect_verdicts, sk, 0, 0);
	if (!v || !v->active || !egressd_udp_decision_covers(&v->decision, p))
		return 1;
	return egressd_udp_decision_apply(&v->decision, p);
}

#endif /* EGRESSD_BPF_UDP_CONNECT_H */
