/* DNS learning on the kernel's packet path (docs/DNS_LEARNING.md).
 *
 * egress:  a workload socket sends a query to a trusted resolver -> remember
 *          (socket cookie, id) -> (question, resolver) in dns_pending.
 * ingress: an answer reaches that socket from that resolver, a unicast from
 *          off the namespace to the socket's address and port (not on lo,
 *          not a looped-back broadcast/multicast copy), with the same id and question -> every A/AAAA of the question's CNAME chain is written to
 *          dns_learned for the receiving workload's scope, for each host of
 *          the scope that the question name matches (exact, or a "*." suffix
 *          at any depth, never the apex). cgroup_skb/ingress runs before the
 *          datagram is queued to the socket, so the IP is in the map before
 *          the application can read the answer: no race with its connect().
 * What the parser can't handle goes to the agent through dns_punt.
 * Nothing here ever drops a DNS packet; only spoofing is dropped.
 *
 * The hooks pass the socket cookie in, so a test object can run the same
 * code under BPF_PROG_TEST_RUN (whose dummy socket gets a new cookie per run).
 */
#ifndef EGRESSD_BPF_DNS_LEARN_H
#define EGRESSD_BPF_DNS_LEARN_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "egressd/scope_bits.h"
#include "lib/addr.h"
#include "lib/dns_parse.h"
#include "lib/identity.h"
#include "lib/maps.h"
#include "lib/skb_copy.h"
#include "lib/skb_l4.h"

#ifndef SOCK_RAW
#define SOCK_RAW 3
#endif
#define EGRESSD_DNS_PORT 53

/* Load-time knobs, set by the loader from --dns-min-ttl / --dns-max-ttl. */
const volatile __u32 dns_min_ttl_s = 5;
const volatile __u32 dns_max_ttl_s = 3600;
/* How long a query waits for its answer (resolver timeouts are ~5 s x tries). */
const volatile __u32 dns_pending_timeout_s = 30;

#define EGRESSD_NS_PER_S 1000000000ull

/* Per-CPU scratch: message, parse result and the matched host classes are too
 * big for the 512-byte stack. */
struct egressd_dns_scratch {
	struct dns_msg msg;
	struct dns_parse_result res;
	__u32 classes[EGRESSD_DNS_CLASSES_PER_IP];
	__u32 class_count;
	__u32 scope_id;
	__u64 now_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct egressd_dns_scratch);
} dns_scratch SEC(".maps");

static __always_inline void egressd_dns_count(__u32 counter)
{
	__u64 *c = bpf_map_lookup_elem(&dns_counters, &counter);
	if (c)
		*c += 1; /* per-CPU slot */
}

static __always_inline int egressd_is_resolver(const struct egressd_addr *addr, __u16 port)
{
	struct egressd_dns_server_key key = { .port = port };
	__builtin_memcpy(key.addr, addr->w, sizeof(key.addr));
	return bpf_map_lookup_elem(&dns_servers, &key) != NULL;
}

/* Seconds a learned IP stays allowed: the record's TTL within the bounds. */
static __always_inline __u64 egressd_dns_ttl_ns(__u32 ttl)
{
	if (ttl < dns_min_ttl_s)
		ttl = dns_min_ttl_s;
	if (ttl > dns_max_ttl_s)
		ttl = dns_max_ttl_s;
	return (__u64)ttl * EGRESSD_NS_PER_S;
}

/* Is the name's suffix of k+1 labels a host of the scope? Appends the host's
 * class to s->classes. Global subprogram: verified once, not per label. */
__attribute__((noinline)) int egressd_dns_match_suffix(struct egressd_dns_scratch *s, __u32 k)
{
	if (!s)
		return 0;
	struct dns_parse_result *res = &s->res;
	__u32 idx = k & (DNS_MAX_LABELS - 1);
	struct egressd_dns_name_key key = { .hash = res->suffix_hash[idx] };
	struct egressd_dns_name_value *v = bpf_map_lookup_elem(&dns_names, &key);
	__u32 class_id;

	if (!v)
		return 0;
	if (idx + 1 == res->label_count) {
		if (!v->exact_class || !egressd_scope_bit_test(v->exact_scopes, s->scope_id))
			return 0;
		class_id = v->exact_class;
	} else {
		/* A shorter suffix: a wildcard host, never its own apex. */
		if (!v->wildcard_class || !egressd_scope_bit_test(v->wildcard_scopes, s->scope_id))
			return 0;
		class_id = v->wildcard_class;
	}
	/* The hash is an index, not a proof: compare the reversed name. */
	__u32 n = res->suffix_end[idx];
	if (v->rname_len != n)
		return 0;
	for (__u32 i = 0; i < EGRESSD_DNS_RNAME_SIZE; i++) {
		if (i >= n)
			break;
		if (res->rname[i & (DNS_RNAME_SIZE - 1)] != v->rname[i & (EGRESSD_DNS_RNAME_SIZE - 1)])
			return 0;
	}
	__u32 count = s->class_count;
	if (count >= EGRESSD_DNS_CLASSES_PER_IP)
		return 0;
	s->classes[count & (EGRESSD_DNS_CLASSES_PER_IP - 1)] = class_id;
	s->class_count = count + 1;
	return 1;
}

/* Adds s->classes to v's class set: a free slot or its own, else the last
 * slot. Global subprogram: verified once, with either map or stack memory. */
__attribute__((noinline)) int egressd_merge_classes(struct egressd_dns_learned_value *v,
						    const struct egressd_dns_scratch *s)
{
	if (!v || !s)
		return 0;
	for (__u32 c = 0; c < EGRESSD_DNS_CLASSES_PER_IP; c++) {
		if (c >= s->class_count)
			break;
		__u32 id = s->classes[c];
		__u32 slot = EGRESSD_DNS_CLASSES_PER_IP - 1;
		for (__u32 j = 0; j < EGRESSD_DNS_CLASSES_PER_IP; j++) {
			__u32 have = v->class_ids[j];
			if (have == id || !have) {
				slot = j;
				break;
			}
		}
		v->class_ids[slot & (EGRESSD_DNS_CLASSES_PER_IP - 1)] = id;
	}
	return 1;
}

/* Writes answer address i for s->scope_id, merging with what is there. A
 * live entry (the common case: a name resolved again) is updated in place,
 * which costs no allocation; readers may briefly see a new class with the old
 * expiry, which is harmless. Only a new or expired entry is (re)inserted. */
__attribute__((noinline)) int egressd_dns_learn_addr(struct egressd_dns_scratch *s, __u32 i)
{
	if (!s)
		return 0;
	struct dns_addr *a = &s->res.addrs[i & (DNS_MAX_ADDRS - 1)];
	struct egressd_dns_learned_key key = { .scope_id = s->scope_id };
	struct egressd_dns_learned_value next = {};
	struct egressd_dns_learned_value *cur;
	__u64 expires = s->now_ns + egressd_dns_ttl_ns(a->ttl);

	__builtin_memcpy(key.addr, a->addr, sizeof(key.addr));
	cur = bpf_map_lookup_elem(&dns_learned, &key);
	if (cur && cur->expires_ns > s->now_ns) {
		egressd_merge_classes(cur, s);
		if (expires > cur->expires_ns)
			cur->expires_ns = expires;
		egressd_dns_count(EGRESSD_DNS_IPS_LEARNED);
		return 1;
	}
	if (cur)
		next.hits = cur->hits; /* expired: its hosts are not kept */
	else
		egressd_dns_count(EGRESSD_DNS_NEW_ENTRIES);
	egressd_merge_classes(&next, s);
	next.expires_ns = expires;
	bpf_map_update_elem(&dns_learned, &key, &next, BPF_ANY);
	egressd_dns_count(EGRESSD_DNS_IPS_LEARNED);
	return 1;
}

/* Copies a payload of 1..DNS_MSG_MAX bytes into the scratch message. */
static __always_inline int egressd_load_payload(struct __sk_buff *skb, __u32 off, __u32 len, struct dns_msg *msg)
{
	return egressd_skb_copy(skb, off, msg->data, len, DNS_MSG_MAX);
}

/* Hands the payload to the agent. Counted either way: never silently lost.
 * `egress`: the workload's TCP segment to the resolver (its SYN, its
 * queries), else what came from the resolver. */
static __always_inline void egressd_dns_punt(struct __sk_buff *skb, const struct egressd_l4 *p, __u64 cookie,
					     __u32 scope_id, __u32 status, int egress, __u32 extra_flags)
{
	struct egressd_dns_punt *ev = bpf_ringbuf_reserve(&dns_punt, sizeof(*ev), 0);
	__u64 n = p->payload_len;

	if (!ev) {
		egressd_dns_count(EGRESSD_DNS_PUNT_DROPPED);
		return;
	}
	ev->cookie = cookie;
	ev->scope_id = scope_id;
	ev->flags = extra_flags;
	if (p->protocol == IPPROTO_TCP)
		ev->flags |= EGRESSD_DNS_PUNT_F_TCP | (p->tcp_syn ? EGRESSD_DNS_PUNT_F_SYN : 0);
	if (egress) {
		ev->flags |= EGRESSD_DNS_PUNT_F_EGRESS;
		__builtin_memcpy(ev->resolver, p->dst.w, sizeof(ev->resolver));
		ev->resolver_port = p->dport;
	} else {
		__builtin_memcpy(ev->resolver, p->src.w, sizeof(ev->resolver));
		ev->resolver_port = p->sport;
	}
	ev->tcp_seq = p->tcp_seq;
	ev->wire_len = n;
	ev->status = status;
	if (n > EGRESSD_DNS_PUNT_MAX) {
		n = EGRESSD_DNS_PUNT_MAX;
		ev->flags |= EGRESSD_DNS_PUNT_F_INCOMPLETE;
	}
	ev->payload_len = (__u16)n;
	if (n && egressd_skb_copy(skb, p->payload_off, ev->payload, n, EGRESSD_DNS_PUNT_MAX) < 0) {
		bpf_ringbuf_discard(ev, 0);
		egressd_dns_count(EGRESSD_DNS_PUNT_DROPPED);
		return;
	}
	bpf_ringbuf_submit(ev, 0);
	egressd_dns_count(EGRESSD_DNS_PUNTED);
}

/* A workload sending as a trusted resolver is forging answers (to itself via
 * a routed loop, or to another pod): drop it. Returns 0 to drop. */
static __always_inline int egressd_dns_spoof_check(const struct egressd_l4 *p)
{
	if (egressd_is_resolver(&p->src, p->sport)) {
		egressd_dns_count(EGRESSD_DNS_SPOOFED);
		return 0;
	}
	return 1;
}

/* cgroup_skb/egress: records queries. Returns the verdict (1 = pass). */
static __always_inline int egressd_dns_on_egress(struct __sk_buff *skb, const struct egressd_l4 *p, __u64 cookie)
{
	__u32 zero = 0;

	if (!egressd_dns_spoof_check(p)) {
		/* Only workload sockets are held to it: the node's own resolver
		 * (hostNetwork CoreDNS, a local stub) is no workload. */
		if (egressd_find_workload_skb(skb))
			return 0;
	}
	if (!egressd_is_resolver(&p->dst, p->dport))
		return 1;
	struct egressd_workload_value *w = egressd_find_workload_skb(skb);
	if (!w)
		return 1;
	if (p->protocol == IPPROTO_TCP) {
		/* DNS over TCP is the agent's: it learns only answers to the
		 * queries this connection sent (userspace/dns/punt_learner.cc),
		 * so it gets the connection's SYN and every query segment. */
		if (p->payload_len || p->tcp_syn)
			egressd_dns_punt(skb, p, cookie, w->scope_id, DNS_PARSE_OK, 1, 0);
		return 1;
	}
	struct egressd_dns_scratch *s = bpf_map_lookup_elem(&dns_scratch, &zero);
	if (!s || p->payload_len < DNS_HDR_LEN || p->payload_len > DNS_MSG_MAX)
		return 1;
	if (egressd_load_payload(skb, p->payload_off, p->payload_len, &s->msg) < 0)
		return 1;
	if (dns_parse_query(&s->msg, p->payload_len, &s->res) != DNS_PARSE_OK || !s->res.label_count)
		return 1;

	struct egressd_dns_pending_key key = { .cookie = cookie, .id = s->res.id };
	struct egressd_dns_pending_value v = {
		.qhash = s->res.suffix_hash[(s->res.label_count - 1) & (DNS_MAX_LABELS - 1)],
		.expires_ns = bpf_ktime_get_boot_ns() + (__u64)dns_pending_timeout_s * EGRESSD_NS_PER_S,
		.resolver_port = p->dport,
		.qtype = s->res.qtype,
	};
	__builtin_memcpy(v.resolver, p->dst.w, sizeof(v.resolver));
	bpf_map_update_elem(&dns_pending, &key, &v, BPF_ANY);
	egressd_dns_count(EGRESSD_DNS_QUERIES);
	return 1;
}

/* The query this answer (id) claims to answer, if the same socket sent it to
 * this resolver and it has not timed out. */
static __always_inline struct egressd_dns_pending_value *
egressd_dns_pending_for(const struct egressd_l4 *p, __u64 cookie, __u16 id, __u64 now,
			struct egressd_dns_pending_key *key)
{
	key->cookie = cookie;
	key->id = id;
	struct egressd_dns_pending_value *v = bpf_map_lookup_elem(&dns_pending, key);
	if (!v || v->expires_ns <= now || v->resolver_port != p->sport)
		return NULL;
	if (!egressd_addr_equals(v->resolver, &p->src))
		return NULL;
	return v;
}

/* cgroup_skb/ingress: learns from answers delivered to socket `rs`. Always
 * returns 1 (pass). */
static __always_inline int egressd_dns_on_ingress(struct __sk_buff *skb, const struct egressd_l4 *p,
						  const struct egressd_rx_sock *rs, __u64 cookie)
{
	__u32 zero = 0;

	if (!egressd_is_resolver(&p->src, p->sport)) {
		if (p->sport == EGRESSD_DNS_PORT && egressd_find_workload_skb(skb))
			egressd_dns_count(EGRESSD_DNS_REJECTED_UNTRUSTED);
		return 1;
	}
	struct egressd_workload_value *w = egressd_find_workload_skb(skb);
	if (!w)
		return 1;
	__u32 scope_id = w->scope_id;
	__u32 audit = w->flags & EGRESSD_WORKLOAD_F_AUDIT;
	/* From a resolver's address but looped back inside the node (lo, or a
	 * copy of the node's own broadcast/multicast), or not addressed to this
	 * socket: a raw socket in the workload could have written it. */
	if (!egressd_rx_is_unicast_to(skb, p, rs)) {
		egressd_dns_count(EGRESSD_DNS_REJECTED_UNTRUSTED);
		return 1;
	}
	if (p->protocol == IPPROTO_TCP) {
		/* Answers, and the SYN-ACK that starts their sequence. */
		if (p->payload_len || p->tcp_syn)
			egressd_dns_punt(skb, p, cookie, scope_id, DNS_PARSE_TOO_COMPLEX, 0, 0);
		return 1;
	}

	struct egressd_dns_scratch *s = bpf_map_lookup_elem(&dns_scratch, &zero);
	if (!s || p->payload_len < DNS_HDR_LEN) {
		egressd_dns_count(EGRESSD_DNS_MALFORMED);
		return 1;
	}
	int status;
	__u16 id;
	if (p->payload_len > DNS_MSG_MAX) {
		__u16 raw_id;
		if (bpf_skb_load_bytes(skb, p->payload_off, &raw_id, sizeof(raw_id)) < 0)
			return 1;
		id = bpf_ntohs(raw_id);
		status = DNS_PARSE_TOO_COMPLEX;
	} else {
		if (egressd_load_payload(skb, p->payload_off, p->payload_len, &s->msg) < 0)
			return 1;
		status = dns_parse(&s->msg, p->payload_len, &s->res);
		id = s->res.id;
	}
	if (status == DNS_PARSE_MALFORMED || status == DNS_PARSE_NAME_TOO_LONG || status == DNS_PARSE_NOT_RESPONSE) {
		egressd_dns_count(EGRESSD_DNS_MALFORMED);
		return 1;
	}

	__u64 now = bpf_ktime_get_boot_ns();
	struct egressd_dns_pending_key pkey = {};
	struct egressd_dns_pending_value *pending = egressd_dns_pending_for(p, cookie, id, now, &pkey);
	if (!pending) {
		egressd_dns_count(EGRESSD_DNS_REJECTED_NO_QUERY);
		return 1;
	}
	if (status != DNS_PARSE_OK) { /* truncated or beyond the kernel's bounds */
		bpf_map_delete_elem(&dns_pending, &pkey);
		egressd_dns_punt(skb, p, cookie, scope_id, status, 0, 0);
		return 1;
	}
	__u32 labels = s->res.label_count;
	if (!labels || pending->qtype != s->res.qtype ||
	    pending->qhash != s->res.suffix_hash[(labels - 1) & (DNS_MAX_LABELS - 1)]) {
		egressd_dns_count(EGRESSD_DNS_REJECTED_NO_QUERY);
		return 1;
	}
	bpf_map_delete_elem(&dns_pending, &pkey);

	s->scope_id = scope_id;
	s->class_count = 0;
	s->now_ns = now;
	/* Most specific first: the whole name, then shorter suffixes. */
	for (int k = DNS_MAX_LABELS - 1; k >= 0; k--) {
		if (k >= labels)
			continue;
		egressd_dns_match_suffix(s, k);
	}
	if (!s->class_count) {
		egressd_dns_count(EGRESSD_DNS_NOT_ALLOWED_NAME);
		/* Audit mode: the name the workload looked up, for suggest. */
		if (audit && s->res.addr_count)
			egressd_dns_punt(skb, p, cookie, scope_id, DNS_PARSE_OK, 0, EGRESSD_DNS_PUNT_F_OBSERVED);
		return 1;
	}
	__u32 addrs = s->res.addr_count;
	if (!addrs) {
		egressd_dns_count(EGRESSD_DNS_NO_ADDRESS);
		return 1;
	}
	for (__u32 i = 0; i < DNS_MAX_ADDRS; i++) {
		if (i >= addrs)
			break;
		egressd_dns_learn_addr(s, i);
	}
	egressd_dns_count(EGRESSD_DNS_ANSWERS_LEARNED);
	return 1;
}

#endif /* EGRESSD_BPF_DNS_LEARN_H */
