/* The egress decision as a pure function of (scope, destination, port, L4
 * protocol) over the policy maps. It knows nothing about the hook that asks,
 * so connect, sendmsg and a future packet backstop share it. */
#ifndef EGRESSD_BPF_POLICY_H
#define EGRESSD_BPF_POLICY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "egressd/scope_bits.h"
#include "lib/addr.h"
#include "lib/maps.h"

/* Load-time knob (--fail-mode): what a workload whose state is missing gets
 * (its scope not active, or its `workloads` entry not written: lib/identity.h).
 * 0, closed: denied. 1, open: audited (passes, counted and recorded as a
 * would-be denial under reason UNKNOWN_SCOPE). Never allowed silently. */
const volatile __u32 fail_open = 0;

struct egressd_decision {
	__u32 verdict;    /* enum egressd_verdict */
	__u32 reason;     /* enum egressd_reason */
	__u32 gateway_id; /* REDIRECTED: the gateways slot to rewrite to */
};

static __always_inline struct egressd_decision egressd_decision(__u32 verdict, __u32 reason)
{
	struct egressd_decision d = { .verdict = verdict, .reason = reason };
	return d;
}

static __always_inline struct egressd_decision egressd_redirect(const struct egressd_port_value *pv)
{
	struct egressd_decision d = { .verdict = EGRESSD_VERDICT_REDIRECTED,
				      .reason = EGRESSD_REASON_GATEWAY_ROUTE,
				      .gateway_id = pv->gateway_id };
	return d;
}

static __always_inline int egressd_scope_bit(const struct egressd_port_value *pv, __u32 scope_id)
{
	return egressd_scope_bit_test(pv->allow_scopes, scope_id);
}

/* Gateway workloads are never redirected: their upstream must not loop. */
static __always_inline int egressd_redirect_bit(const struct egressd_port_value *pv, __u32 scope_id,
						__u32 workload_flags)
{
	return !(workload_flags & EGRESSD_WORKLOAD_F_GATEWAY) && egressd_scope_bit_test(pv->redirect_scopes, scope_id);
}

/* The (class, port, protocol) entry of the longest prefix covering dst, or
 * its any-port entry. The compiler folds ports of covering prefixes into each
 * class, so the longest match alone decides. protocol 0 (not TCP/UDP) never
 * matches an entry. */
static __always_inline struct egressd_port_value *
egressd_lookup_dest(const struct egressd_addr *dst, __u16 port, __u8 protocol)
{
	struct egressd_prefix_key pk = { .prefixlen = 128 };
	struct egressd_prefix_value *cls;
	struct egressd_port_key key = {};
	struct egressd_port_value *pv;

	if (!protocol)
		return NULL;
	__builtin_memcpy(pk.addr, dst->w, sizeof(pk.addr));
	cls = bpf_map_lookup_elem(&dest_prefixes, &pk);
	if (!cls)
		return NULL;
	key.class_id = cls->class_id;
	key.port = port;
	key.protocol = protocol;
	pv = bpf_map_lookup_elem(&dest_ports, &key);
	if (pv)
		return pv;
	/* Port 0 is "any port" (--cluster-cidr). The compiler folds it into
	 * every exact-port entry of the class, so an exact hit is complete and
	 * the two are never combined. */
	key.port = 0;
	return bpf_map_lookup_elem(&dest_ports, &key);
}

/* Is (port, protocol) open to this scope through a host the destination was
 * learned for (lib/dns_learn.h)? Expired entries don't count. Returns the
 * entry that decided: a host routed via the gateway wins over one that only
 * allows (the IP may be learned for both "*.x.com" and "api.x.com"). */
static __always_inline struct egressd_port_value *
egressd_learned_allows(__u32 scope_id, const struct egressd_addr *dst, __u16 port, __u8 protocol,
		       __u32 workload_flags)
{
	struct egressd_port_value *allowed = NULL;
	struct egressd_dns_learned_key lk = { .scope_id = scope_id };
	struct egressd_dns_learned_value *lv;
	struct egressd_port_key key = {};
	struct egressd_port_value *pv;

	if (!protocol)
		return NULL;
	__builtin_memcpy(lk.addr, dst->w, sizeof(lk.addr));
	lv = bpf_map_lookup_elem(&dns_learned, &lk);
	if (!lv || lv->expires_ns <= bpf_ktime_get_boot_ns())
		return NULL;
	key.protocol = protocol;
	for (int i = 0; i < EGRESSD_DNS_CLASSES_PER_IP; i++) {
		key.class_id = lv->class_ids[i];
		if (!key.class_id)
			continue;
		key.port = port;
		pv = bpf_map_lookup_elem(&dest_ports, &key);
		if (!pv) {
			key.port = 0;
			pv = bpf_map_lookup_elem(&dest_ports, &key);
		}
		if (!pv)
			continue;
		if (egressd_redirect_bit(pv, scope_id, workload_flags)) {
			allowed = pv;
			break;
		}
		if (!allowed && egressd_scope_bit(pv, scope_id))
			allowed = pv;
	}
	if (allowed)
		__sync_fetch_and_add(&lv->hits, 1);
	return allowed;
}

/* port is in host byte order. Steps 2-8 of the decision order, written once
 * in docs/ARCHITECTURE.md "The decision"; the hook does 1 and what follows 8. */
static __always_inline struct egressd_decision
egressd_decide(__u32 scope_id, __u32 workload_flags, const struct egressd_addr *dst, __u16 port, __u8 protocol)
{
	struct egressd_scope_value *scope;
	struct egressd_port_value *pv;

	if (egressd_addr_is_local(dst))
		return egressd_decision(EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_LOOPBACK);

	pv = egressd_lookup_dest(dst, port, protocol);
	if (pv && (pv->flags & EGRESSD_PORT_F_ALWAYS))
		return egressd_decision(EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_ALWAYS_ALLOWED);

	if (workload_flags & EGRESSD_WORKLOAD_F_UNKNOWN)
		return egressd_decision(EGRESSD_VERDICT_DENIED, EGRESSD_REASON_UNKNOWN_WORKLOAD);

	scope = bpf_map_lookup_elem(&scopes, &scope_id);
	if (!scope || !(scope->flags & EGRESSD_SCOPE_F_ACTIVE))
		return egressd_decision(fail_open ? EGRESSD_VERDICT_AUDIT : EGRESSD_VERDICT_DENIED,
					EGRESSD_REASON_UNKNOWN_SCOPE);

	if (pv) {
		if (egressd_redirect_bit(pv, scope_id, workload_flags))
			return egressd_redirect(pv);
		if (egressd_scope_bit(pv, scope_id))
			return egressd_decision(EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_REGISTRY_MATCH);
	}

	pv = egressd_learned_allows(scope_id, dst, port, protocol, workload_flags);
	if (pv)
		return egressd_redirect_bit(pv, scope_id, workload_flags)
			       ? egressd_redirect(pv)
			       : egressd_decision(EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_DNS_LEARNED);

	if (workload_flags & EGRESSD_WORKLOAD_F_GATEWAY)
		return egressd_decision(EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_GATEWAY_WORKLOAD);

	if (scope->outbound_mode == EGRESSD_MODE_ALLOW_ANY)
		return egressd_decision(EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_ALLOW_ANY);
	return egressd_decision(EGRESSD_VERDICT_DENIED, EGRESSD_REASON_NOT_IN_REGISTRY);
}

#endif /* EGRESSD_BPF_POLICY_H */
