/* Egress gateway redirect at connect(): rewrite the destination to the
 * gateway Service and remember the original per socket, keyed by socket
 * cookie, so getpeername() returns it and the app can't tell. The app's own
 * bytes (TLS SNI, HTTP Host) pass untouched: the gateway routes on them, as
 * Istio's PASSTHROUGH gateway does.
 *
 * Where the original is kept: slot cookie & (EGRESSD_REDIRECT_SLOTS - 1) of
 * the array `redirected_slots`, claimed with a compare-and-swap of its cookie
 * from 0 (an array write: no bucket lock, no LRU list, the cost the hash
 * insert had). A slot another live socket holds is never taken over, so a
 * long-lived connection is never displaced; that socket goes to the LRU hash
 * `redirected` instead, so correctness never depends on getting the slot. A
 * socket's state is in one place at a time that matters: the slot, when it
 * holds the cookie, is always the newer (a slot is claimed only by a later
 * connect, and never lost while the socket lives). */
#ifndef EGRESSD_BPF_GATEWAY_H
#define EGRESSD_BPF_GATEWAY_H

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "lib/addr.h"
#include "lib/flows.h"
#include "lib/maps.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

_Static_assert((EGRESSD_REDIRECT_SLOTS & (EGRESSD_REDIRECT_SLOTS - 1)) == 0,
	       "EGRESSD_REDIRECT_SLOTS must be a power of two");

/* The slot a cookie maps to; NULL for cookie 0, which marks a free slot and
 * is never a socket's (that one would only use the LRU). */
static __always_inline struct egressd_redirect_slot *egressd_redirect_slot_of(__u64 cookie)
{
	__u32 index = (__u32)cookie & (EGRESSD_REDIRECT_SLOTS - 1);

	if (!cookie)
		return NULL;
	return bpf_map_lookup_elem(&redirected_slots, &index);
}

/* abi_info: an array lookup the verifier inlines. */
static __always_inline struct egressd_abi_info *egressd_abi_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&abi_info, &zero);
}

/* May the LRU hold anything? Yes when the flag cannot be read. */
static __always_inline int egressd_redirect_lru_used(void)
{
	struct egressd_abi_info *info = egressd_abi_state();

	return !info || (info->flags & EGRESSD_ABI_F_REDIRECT_LRU_USED);
}

/* Rewrites ctx to gateways[gateway_id]. Returns 0 on success; nonzero means
 * the flow must be denied (fail closed, never around the gateway): no such
 * gateway, an IPv6 gateway for an AF_INET socket, or the original could not
 * be stored (neither the slot nor the LRU). The state is written before ctx,
 * and whole (a reconnected socket's old state is replaced where it is: its
 * own slot, or BPF_ANY in the LRU). */
static __always_inline int egressd_redirect_connect(struct bpf_sock_addr *ctx, __u32 gateway_id,
						    const struct egressd_addr *orig, int v6)
{
	struct egressd_redirect_key key = { .cookie = bpf_get_socket_cookie(ctx) };
	struct egressd_redirect_state st;
	struct egressd_redirect_slot *slot;
	struct egressd_gateway_value *gw;
	__u32 via[4];

	if (!gateway_id)
		return -1;
	gw = bpf_map_lookup_elem(&gateways, &gateway_id);
	if (!gw || !(gw->flags & EGRESSD_GATEWAY_F_ACTIVE))
		return -1;
	if (!v6 && gw->family != AF_INET)
		return -1;
	__builtin_memcpy(via, gw->addr, sizeof(via));
	__builtin_memcpy(st.orig_addr, orig->w, sizeof(st.orig_addr));
	__builtin_memcpy(st.via_addr, via, sizeof(st.via_addr));
	st.orig_port = (__u16)ctx->user_port;
	st.via_port = bpf_htons(gw->port);
	st.gateway_id = gateway_id;
	slot = egressd_redirect_slot_of(key.cookie);
	if (slot) {
		/* Free (0) -> ours, or ours already (a reconnect). The CAS is a full
		 * barrier: a previous owner's clearing is done before our writes. */
		__u64 held = __sync_val_compare_and_swap(&slot->cookie, 0, key.cookie);

		if (held == 0 || held == key.cookie)
			slot->state = st;
		else
			slot = NULL;
	}
	if (!slot) {
		/* The slower path: counted, so a busy slot array shows. */
		egressd_flow_count(EGRESSD_FLOW_REDIRECT_FALLBACK);
		if (bpf_map_update_elem(&redirected, &key, &st, BPF_ANY))
			return -1;
	}
	if (v6) {
		/* An IPv4 gateway is stored v4-mapped: right for a dual-stack socket. */
		ctx->user_ip6[0] = via[0];
		ctx->user_ip6[1] = via[1];
		ctx->user_ip6[2] = via[2];
		ctx->user_ip6[3] = via[3];
	} else {
		ctx->user_ip4 = via[3];
	}
	ctx->user_port = bpf_htons(gw->port);
	return 0;
}

/* getpeername(): put the original destination back while the peer is still
 * the gateway we wrote (a later connect elsewhere is reported as is). */
static __always_inline void egressd_restore_peer(struct bpf_sock_addr *ctx, int v6)
{
	struct egressd_redirect_key key = { .cookie = bpf_get_socket_cookie(ctx) };
	struct egressd_redirect_slot *slot = egressd_redirect_slot_of(key.cookie);
	struct egressd_redirect_state *st;
	__u32 orig[4], via[4];

	if (slot && slot->cookie == key.cookie)
		st = &slot->state;
	else
		st = bpf_map_lookup_elem(&redirected, &key);
	if (!st || (__u16)ctx->user_port != st->via_port)
		return;
	__builtin_memcpy(orig, st->orig_addr, sizeof(orig));
	__builtin_memcpy(via, st->via_addr, sizeof(via));
	if (v6) {
		if (ctx->user_ip6[0] != via[0] || ctx->user_ip6[1] != via[1] || ctx->user_ip6[2] != via[2] ||
		    ctx->user_ip6[3] != via[3])
			return;
		ctx->user_ip6[0] = orig[0];
		ctx->user_ip6[1] = orig[1];
		ctx->user_ip6[2] = orig[2];
		ctx->user_ip6[3] = orig[3];
	} else {
		if (ctx->user_ip4 != via[3])
			return;
		ctx->user_ip4 = orig[3];
	}
	ctx->user_port = st->orig_port;
}

/* cgroup/sock_release: the socket's redirect state goes with it. Every
 * socket under the root passes here, almost none redirected: a slot read
 * (an inlined array lookup) and, once the LRU was ever used, a lock-free LRU
 * lookup, the delete (bucket lock) only for an entry that exists. A slot holder clears its state, then
 * frees the slot with an atomic exchange (a full barrier, so the clearing
 * can't land after the next owner's writes); it still checks the LRU, where
 * an earlier connect of the same socket may have gone while the slot was
 * taken, so nothing outlives the socket. */
static __always_inline void egressd_forget_redirect(__u64 cookie)
{
	struct egressd_redirect_key key = { .cookie = cookie };
	struct egressd_redirect_slot *slot = egressd_redirect_slot_of(cookie);

	if (slot && slot->cookie == cookie) {
		__builtin_memset(&slot->state, 0, sizeof(slot->state));
		__sync_lock_test_and_set(&slot->cookie, 0);
	}
	/* Every socket under the root passes here, and a miss in the LRU's
	 * 65,536 buckets is a cache miss: about half of this program's time
	 * when it was always made. Nothing to find before the flag is set. */
	if (egressd_redirect_lru_used() && bpf_map_lookup_elem(&redirected, &key))
		bpf_map_delete_elem(&redirected, &key);
}

#endif /* EGRESSD_BPF_GATEWAY_H */
