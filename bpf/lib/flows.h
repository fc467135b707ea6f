/* Per-flow stats (map `flows`) and events (ring buffer `flow_events`).
 * The socket hooks pay one lookup and an atomic add per decision; an event
 * is only written for a new flow, or for a denial/redirect/audit at most
 * once per EGRESSD_EVENT_INTERVAL_NS per flow, so counts stay exact in the
 * map while the access log stays bounded. */
#ifndef EGRESSD_BPF_FLOWS_H
#define EGRESSD_BPF_FLOWS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "lib/addr.h"
#include "lib/maps.h"

/* Load-time knob: 0 turns flows and events off (the benchmark's baseline). */
const volatile __u32 flow_stats_enabled = 1;

#define EGRESSD_HOOK_TC 0xff

static __always_inline void egressd_flow_count(__u32 counter)
{
	__u64 *c = bpf_map_lookup_elem(&flow_counters, &counter);

	if (c) /* per-CPU slot */
		(*c)++;
}

static __always_inline void egressd_flow_emit(const struct egressd_flow_key *key, __u32 verdict, __u32 reason,
					      __u32 scope_id, __u8 hook, __u32 flags, __u64 now)
{
	struct egressd_flow_event *ev = bpf_ringbuf_reserve(&flow_events, sizeof(*ev), 0);

	if (!ev) {
		egressd_flow_count(EGRESSD_FLOW_EVENTS_DROPPED);
		return;
	}
	ev->time_ns = now;
	ev->cgroup_id = key->cgroup_id;
	__builtin_memcpy(ev->addr, key->addr, sizeof(ev->addr));
	ev->port = key->port;
	ev->protocol = key->protocol;
	ev->hook = hook;
	ev->verdict = verdict;
	ev->reason = reason;
	ev->scope_id = scope_id;
	ev->flags = flags;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
	egressd_flow_count(EGRESSD_FLOW_EVENTS);
}

static __always_inline void egressd_flow_add_verdict(struct egressd_flow_value *v, __u32 verdict)
{
	switch (verdict) {
	case EGRESSD_VERDICT_ALLOWED:
		__sync_fetch_and_add(&v->connects_allowed, 1);
		break;
	case EGRESSD_VERDICT_DENIED:
		__sync_fetch_and_add(&v->connects_denied, 1);
		break;
	case EGRESSD_VERDICT_REDIRECTED:
		__sync_fetch_and_add(&v->connects_redirected, 1);
		break;
	default:
		__sync_fetch_and_add(&v->connects_audited, 1);
		break;
	}
}

/* The flow's entry, created (zeroed) if missing. *created says whether this
 * call made it: creations count towards the eviction estimate. */
static __always_inline struct egressd_flow_value *egressd_flow_get(const struct egressd_flow_key *key, __u32 scope_id,
								  int *created)
{
	struct egressd_flow_value *v = bpf_map_lookup_elem(&flows, key);
	struct egressd_flow_value init = { .scope_id = scope_id };

	*created = 0;
	if (v)
		return v;
	if (bpf_map_update_elem(&flows, key, &init, BPF_NOEXIST) == 0) {
		*created = 1;
		egressd_flow_count(EGRESSD_FLOW_NEW_ENTRIES);
	}
	/* Created here or raced in by another CPU: either way, count into it. */
	return bpf_map_lookup_elem(&flows, key);
}

/* Should this flow report now? New flows always; otherwise only verdicts
 * other than allowed, once per interval. */
static __always_inline int egressd_flow_should_emit(struct egressd_flow_value *v, __u32 verdict, int created,
						    __u64 now)
{
	if (created) {
		v->last_event_ns = now;
		return 1;
	}
	if (verdict == EGRESSD_VERDICT_ALLOWED)
		return 0;
	if (now - v->last_event_ns < EGRESSD_EVENT_INTERVAL_NS) {
		egressd_flow_count(EGRESSD_FLOW_EVENTS_LIMITED);
		return 0;
	}
	/* A racing CPU may emit one more: harmless, the limit is a bound. */
	v->last_event_ns = now;
	return 1;
}

/* A socket-hook decision: one connect()/sendmsg() of the flow. */
static __always_inline void egressd_flow_record(__u64 cgroup_id, const struct egressd_addr *dst, __u16 port,
						__u8 protocol, __u32 verdict, __u32 reason, __u32 scope_id, __u8 hook)
{
	struct egressd_flow_key key = { .cgroup_id = cgroup_id, .port = port, .protocol = protocol };
	struct egressd_flow_value *v;
	__u64 now;
	int created;

	if (!flow_stats_enabled)
		return;
	__builtin_memcpy(key.addr, dst->w, sizeof(key.addr));
	v = egressd_flow_get(&key, scope_id, &created);
	if (!v)
		return;
	now = bpf_ktime_get_ns();
	egressd_flow_add_verdict(v, verdict);
	v->last_seen_ns = now;
	v->last_reason = reason;
	if (egressd_flow_should_emit(v, verdict, created, now))
		egressd_flow_emit(&key, verdict, reason, scope_id, hook, created ? EGRESSD_EVENT_F_NEW_FLOW : 0, now);
}

#endif /* EGRESSD_BPF_FLOWS_H */
