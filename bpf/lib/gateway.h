/* Egress gateway redirect at connect(): rewrite the destination to the
 * gateway Service and remember the original per socket (map `redirected`,
 * keyed by socket cookie), so getpeername() returns it and the app can't
 * tell. The app's own bytes (TLS SNI, HTTP
 * Host) pass untouched: the gateway routes on them, as Istio's PASSTHROUGH
 * gateway does. */
#ifndef EGRESSD_BPF_GATEWAY_H
#define EGRESSD_BPF_GATEWAY_H

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "lib/addr.h"
#include "lib/maps.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* Rewrites ctx to gateways[gateway_id]. Returns 0 on success; nonzero means
 * the flow must be denied (fail closed, never around the gateway): no such
 * gateway, an IPv6 gateway for an AF_INET socket, or the original could not
 * be stored. The state is written before ctx, and whole (BPF_ANY replaces a
 * reconnected socket's old entry). */
static __always_inline int egressd_redirect_connect(struct bpf_sock_addr *ctx, __u32 gateway_id,
						    const struct egressd_addr *orig, int v6)
{
	struct egressd_redirect_key key = { .cookie = bpf_get_socket_cookie(ctx) };
	struct egressd_redirect_state st;
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
	if (bpf_map_update_elem(&redirected, &key, &st, BPF_ANY))
		return -1;
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
	struct egressd_redirect_state *st;
	__u32 orig[4], via[4];

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
 * socket under the root passes here, almost none redirected: a lock-free
 * lookup first, the delete (bucket lock) only for an entry that exists. */
static __always_inline void egressd_forget_redirect(__u64 cookie)
{
	struct egressd_redirect_key key = { .cookie = cookie };

	if (bpf_map_lookup_elem(&redirected, &key))
		bpf_map_delete_elem(&redirected, &key);
}

#endif /* EGRESSD_BPF_GATEWAY_H */
