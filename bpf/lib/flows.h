/* Per-flow stats (map `flows`) and events (ring buffer `flow_events`).
 * The socket hooks pay one lookup and an atomic add per decision; an event
 * is only written for a new flow, or for a denial/redirect/audit at most
 * once per EGRESSD_EVENT_INTERVAL_NS per flow, so counts stay exact in the
 * map while the access log stays bounded.
 *
 * A new flow is one insert that already holds its first count, times and
 * reason (no second lookup), and its event does not wake the agent: the
 * agent reads the ring on a short timer (flow_event_reader.cc) and is woken
 * only when EGRESSD_EVENTS_WAKEUP_BYTES are queued. A wakeup per event cost
 * a self-IPI (irq_work) on the connecting CPU and a context switch per
 * connect (docs/OBSERVABILITY.md, benchmark). */
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

/* Wake the agent when this much is queued (1/16 of the ring, 1024 events),
 * so a burst is read long before the ring fills; below it the agent's timer
 * reads the ring. */
#define EGRESSD_EVENTS_WAKEUP_BYTES (EGRESSD_EVENTS_RINGBUF_SIZE / 16)
/* An event's size in the ring: record header (8 bytes) + the event. */
#define EGRESSD_EVENT_RING_BYTES (8 + ((sizeof(struct egressd_flow_event) + 7) & ~7ull))

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
	__u64 avail;

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
	/* Only the event that takes the queue past the mark wakes the agent
	 * (one wakeup per EGRESSD_EVENTS_WAKEUP_BYTES); if racing CPUs both miss
	 * it, the agent's timer still reads the ring. */
	avail = bpf_ringbuf_query(&flow_events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(ev, avail >= EGRESSD_EVENTS_WAKEUP_BYTES &&
				       avail < EGRESSD_EVENTS_WAKEUP_BYTES + EGRESSD_EVENT_RING_BYTES ?
			       BPF_RB_FORCE_WAKEUP :
			       BPF_RB_NO_WAKEUP);
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
	/* Signed: `now` may be a coarse clock reading a tick behind a precise
	 * last_event_ns. */
	if ((__s64)(now - v->last_event_ns) < (__s64)EGRESSD_EVENT_INTERVAL_NS) {
		egressd_flow_count(EGRESSD_FLOW_EVENTS_LIMITED);
		return 0;
	}
	/* A racing CPU may emit one more: harmless, the limit is a bound. */
	v->last_event_ns = now;
	return 1;
}

/* Insert a new flow with its first decision already in it (one hash
 * operation instead of insert + lookup + atomic add). 0: created; otherwise
 * the flow exists (another CPU won the race) or the insert failed. */
static __always_inline int egressd_flow_insert(const struct egressd_flow_key *key, __u32 verdict, __u32 reason,
					       __u32 scope_id, __u64 now)
{
	struct egressd_flow_value init = {
		.last_seen_ns = now, .last_event_ns = now, .scope_id = scope_id, .last_reason = reason
	};

	switch (verdict) {
	case EGRESSD_VERDICT_ALLOWED:
		init.connects_allowed = 1;
		break;
	case EGRESSD_VERDICT_DENIED:
		init.connects_denied = 1;
		break;
	case EGRESSD_VERDICT_REDIRECTED:
		init.connects_redirected = 1;
		break;
	default:
		init.connects_audited = 1;
		break;
	}
	if (bpf_map_update_elem(&flows, key, &init, BPF_NOEXIST))
		return -1;
	egressd_flow_count(EGRESSD_FLOW_NEW_ENTRIES);
	return 0;
}

/* A socket-hook decision: one connect()/sendmsg() of the flow. */
static __always_inline void egressd_flow_record(__u64 cgroup_id, const struct egressd_addr *dst, __u16 port,
						__u8 protocol, __u32 verdict, __u32 reason, __u32 scope_id, __u8 hook)
{
	struct egressd_flow_key key = { .cgroup_id = cgroup_id, .port = port, .protocol = protocol };
	struct egressd_flow_value *v;
	__u64 now;

	if (!flow_stats_enabled)
		return;
	__builtin_memcpy(key.addr, dst->w, sizeof(key.addr));
	v = bpf_map_lookup_elem(&flows, &key);
	if (!v) {
		now = bpf_ktime_get_ns();
		if (egressd_flow_insert(&key, verdict, reason, scope_id, now) == 0) {
			egressd_flow_emit(&key, verdict, reason, scope_id, hook, EGRESSD_EVENT_F_NEW_FLOW, now);
			return;
		}
		/* Another CPU created it meanwhile: count into that one. */
		v = bpf_map_lookup_elem(&flows, &key);
		if (!v)
			return;
	}
	/* A known flow: the coarse clock (no clock-source read) is enough for
	 * last_seen and the rate limit; never step last_seen back (the agent
	 * reads a smaller last_seen as a re-created entry), and write
	 * last_reason only when it changes. */
	now = bpf_ktime_get_coarse_ns();
	egressd_flow_add_verdict(v, verdict);
	if ((__s64)(now - v->last_seen_ns) > 0)
		v->last_seen_ns = now;
	if (v->last_reason != reason)
		v->last_reason = reason;
	if (verdict == EGRESSD_VERDICT_ALLOWED)
		return;
	if (egressd_flow_should_emit(v, verdict, 0, now))
		egressd_flow_emit(&key, verdict, reason, scope_id, hook, 0, bpf_ktime_get_ns());
}

#endif /* EGRESSD_BPF_FLOWS_H */
