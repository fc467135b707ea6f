/* Which workload is the current task in? A workload is a cgroup v2 directory;
 * the task may sit in it or in any descendant (a container below the pod). */
#ifndef EGRESSD_BPF_IDENTITY_H
#define EGRESSD_BPF_IDENTITY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "lib/maps.h"

/* The deepest registered cgroup wins: the current cgroup first, then the
 * ancestors from the deepest level up. Returns NULL when no cgroup on the
 * path is a workload: the socket is left untouched. */
static __always_inline struct egressd_workload_value *egressd_find_workload_id(__u64 *cgroup_id)
{
	struct egressd_workload_key key = { .cgroup_id = bpf_get_current_cgroup_id() };
	struct egressd_workload_value *w = bpf_map_lookup_elem(&workloads, &key);

	if (w) {
		*cgroup_id = key.cgroup_id;
		return w;
	}
	for (int level = EGRESSD_MAX_CGROUP_DEPTH; level >= 0; level--) {
		key.cgroup_id = bpf_get_current_ancestor_cgroup_id(level);
		if (!key.cgroup_id) /* deeper than the task's own cgroup */
			continue;
		w = bpf_map_lookup_elem(&workloads, &key);
		if (w) {
			/* The registered cgroup names the workload in flows and events. */
			*cgroup_id = key.cgroup_id;
			return w;
		}
	}
	return NULL;
}

/* For a task in no workload: is it below a pods parent (map `pods_parents`),
 * in a cgroup the agent has not tied to a workload yet (a pod that started
 * before its Pod object arrived, a service whose cgroup was just created
 * again)? Then the result is the parent's child on the task's path (the
 * pod-level cgroup); the agent writes no parents with --unknown-pods allow.
 * Or is it in a workload the agent enforces whose `workloads` entry is
 * missing (EGRESSD_PODS_WORKLOAD: no room, a failed write, no scope slot)?
 * Then the result is that cgroup with EGRESSD_STATE_MISSING set. A task in
 * the (deepest) parent itself, or below neither, gets 0: untouched (and
 * egressd_in_unknown_workload() leaves an excluded pod alone). Callers ask
 * only after egressd_find_workload_id() found nothing: a workload's own
 * tasks pay nothing for this. */
/* Bit 62 is in no cgroup id (as bit 63, abi.h): kernfs ids are an inode
 * number and a generation counter that never gets that far. */
#define EGRESSD_STATE_MISSING (1ULL << 62)
/* A global function: the verifier checks the walk once per program, not
 * again on every path of the hook that calls it (connect4 stays within its
 * instruction budget). 0: not below a parent. */
__attribute__((noinline)) __u64 egressd_unknown_workload_id(void)
{
	struct egressd_workload_key key = {};
	struct egressd_pods_parent_value *entry;
	__u64 below = 0; /* the ancestor one level deeper than `level` */

	for (int level = EGRESSD_MAX_CGROUP_DEPTH; level >= 0; level--) {
		key.cgroup_id = bpf_get_current_ancestor_cgroup_id(level);
		if (!key.cgroup_id)
			continue;
		/* The deepest entry on the path decides. */
		entry = bpf_map_lookup_elem(&pods_parents, &key);
		if (entry && entry->kind == EGRESSD_PODS_WORKLOAD)
			return key.cgroup_id | EGRESSD_STATE_MISSING;
		if (entry)
			return below;
		below = key.cgroup_id;
	}
	return 0;
}

/* What egressd_in_unknown_workload() found. */
#define EGRESSD_IN_NO_WORKLOAD 0
#define EGRESSD_IN_UNKNOWN_POD 1      /* below a pods parent, tied to no workload */
#define EGRESSD_IN_MISSING_STATE 2    /* an enforced workload without its entry */

/* An unknown workload's pod-level cgroup (the parent's child on the path)
 * may be an excluded pod: its entry, keyed apart from the parents (abi.h),
 * leaves it and its containers untouched. One lookup here, once the walk is
 * done: checked in the walk, it would cost the verifier once per level. */
static __always_inline int egressd_in_unknown_workload(__u64 *cgroup_id)
{
	__u64 id = egressd_unknown_workload_id();
	struct egressd_workload_key excluded;

	if (!id)
		return EGRESSD_IN_NO_WORKLOAD;
	if (id & EGRESSD_STATE_MISSING) {
		*cgroup_id = id & ~EGRESSD_STATE_MISSING;
		return EGRESSD_IN_MISSING_STATE;
	}
	excluded.cgroup_id = EGRESSD_PODS_EXCLUDED_KEY(id);
	if (bpf_map_lookup_elem(&pods_parents, &excluded))
		return EGRESSD_IN_NO_WORKLOAD;
	*cgroup_id = id;
	return EGRESSD_IN_UNKNOWN_POD;
}

/* How an unknown workload is described to the decision: no scope, and the
 * flag that makes egressd_decide() refuse all but loopback and ALWAYS. */
#define EGRESSD_UNKNOWN_WORKLOAD_VALUE { .scope_id = EGRESSD_SCOPE_NONE, .flags = EGRESSD_WORKLOAD_F_UNKNOWN }
/* And an enforced workload whose entry is missing: no scope, so
 * egressd_decide() gives UNKNOWN_SCOPE (the fail mode decides). */
#define EGRESSD_MISSING_STATE_VALUE { .scope_id = EGRESSD_SCOPE_NONE, .flags = 0 }

static __always_inline struct egressd_workload_value *egressd_find_workload(void)
{
	__u64 cgroup_id;

	return egressd_find_workload_id(&cgroup_id);
}

/* The same rule for a packet: the workload of the socket it belongs to
 * (cgroup_skb hooks run in softirq, where the current task means nothing). */
static __always_inline struct egressd_workload_value *egressd_find_workload_skb_id(struct __sk_buff *skb,
										     __u64 *cgroup_id)
{
	struct egressd_workload_key key = { .cgroup_id = bpf_skb_cgroup_id(skb) };
	struct egressd_workload_value *w;

	if (!key.cgroup_id) /* no full socket */
		return NULL;
	w = bpf_map_lookup_elem(&workloads, &key);
	if (w) {
		*cgroup_id = key.cgroup_id;
		return w;
	}
	for (int level = EGRESSD_MAX_CGROUP_DEPTH; level >= 0; level--) {
		key.cgroup_id = bpf_skb_ancestor_cgroup_id(skb, level);
		if (!key.cgroup_id)
			continue;
		w = bpf_map_lookup_elem(&workloads, &key);
		if (w) {
			*cgroup_id = key.cgroup_id;
			return w;
		}
	}
	return NULL;
}

static __always_inline struct egressd_workload_value *egressd_find_workload_skb(struct __sk_buff *skb)
{
	__u64 cgroup_id;

	return egressd_find_workload_skb_id(skb, &cgroup_id);
}

#endif /* EGRESSD_BPF_IDENTITY_H */
