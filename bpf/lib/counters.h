/* Per-hook, per-reason verdict counters (map `verdict_counters`). */
#ifndef EGRESSD_BPF_COUNTERS_H
#define EGRESSD_BPF_COUNTERS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "lib/maps.h"

static __always_inline void egressd_count(__u32 hook, __u32 reason, int allowed)
{
	__u32 idx = hook * EGRESSD_REASON_COUNT + reason;
	struct egressd_counter *c = bpf_map_lookup_elem(&verdict_counters, &idx);

	if (!c)
		return;
	/* Per-CPU slot: the program runs with migration disabled, no atomics. */
	if (allowed)
		c->allowed++;
	else
		c->denied++;
}

#endif /* EGRESSD_BPF_COUNTERS_H */
