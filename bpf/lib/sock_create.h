/* Raw IP sockets before a workload's TC backstop exists.
 *
 * Raw and packet sockets never pass connect()/sendmsg(): only the TC backstop
 * on the workload's host-side interface judges their packets, and the agent
 * can attach it only once the workload has a process (to find its network
 * namespace). A workload's first process could send a burst before that. So
 * a raw IP socket (AF_INET/AF_INET6, SOCK_RAW) is refused (socket() fails
 * with EPERM, counted under hook sock_create, recorded as a flow with no
 * address and protocol 255, an event per flow interval) while the backstop is
 * expected but not attached:
 *  - a workload without an entry in `backstops` (the agent writes it once
 *    both TC programs are on the workload's interface, or when the workload
 *    can have none: host network, or a network namespace shared with
 *    another workload): reason BACKSTOP_PENDING;
 *  - an unknown workload (lib/identity.h): reason UNKNOWN_WORKLOAD.
 * Left alone: a socket in the agent's own network namespace (host network:
 * no interface of the workload's own to put a backstop on), every socket
 * when the agent attaches no backstops (--tc-mode off), and tasks in no
 * workload. An audited workload's socket passes, counted as audit, as the
 * backstop passes its packets.
 *
 * cgroup/sock_create runs only for AF_INET and AF_INET6 sockets. AF_PACKET
 * sockets reach no cgroup hook (only the BPF LSM's socket_create, which many
 * kernels don't enable, and the test machines refuse to load): a packet
 * socket created before the backstop is attached is bounded only by how fast
 * the agent attaches (the cgroup watcher sees the first process). */
#ifndef EGRESSD_BPF_SOCK_CREATE_H
#define EGRESSD_BPF_SOCK_CREATE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "lib/counters.h"
#include "lib/flows.h"
#include "lib/identity.h"
#include "lib/maps.h"

/* Load-time knobs, set by the agent: raw_socket_gate is 1 when it attaches
 * TC backstops; host_netns_cookie is its own network namespace's cookie. */
const volatile __u32 raw_socket_gate = 0;
const volatile __u64 host_netns_cookie = 0;

#define EGRESSD_AF_INET 2
#define EGRESSD_AF_INET6 10
#define EGRESSD_SOCK_RAW 3

/* The flow a refused socket is recorded under: no address, no port. */
#define EGRESSD_RAW_FLOW_PROTOCOL 255 /* IPPROTO_RAW */

static __always_inline int egressd_is_raw_socket(__u32 family, __u32 type)
{
	return (family == EGRESSD_AF_INET || family == EGRESSD_AF_INET6) && type == EGRESSD_SOCK_RAW;
}

/* 1: let socket() go on; 0: EPERM. netns_cookie is the calling task's
 * network namespace's (the hooks differ in how they read it). */
static __always_inline int egressd_raw_socket_allowed(__u32 family, __u32 type, __u64 netns_cookie)
{
	const struct egressd_workload_value unknown = EGRESSD_UNKNOWN_WORKLOAD_VALUE;
	const struct egressd_workload_value *w;
	struct egressd_addr none = {};
	__u64 cgroup_id = 0;
	__u32 reason = EGRESSD_REASON_BACKSTOP_PENDING;
	__u32 verdict = EGRESSD_VERDICT_DENIED;

	if (!raw_socket_gate || !egressd_is_raw_socket(family, type))
		return 1;
	w = egressd_find_workload_id(&cgroup_id);
	if (w) {
		struct egressd_workload_key key = { .cgroup_id = cgroup_id };

		if (bpf_map_lookup_elem(&backstops, &key))
			return 1;
	} else {
		if (!egressd_in_unknown_workload(&cgroup_id))
			return 1;
		w = &unknown;
		reason = EGRESSD_REASON_UNKNOWN_WORKLOAD;
	}
	if (host_netns_cookie && netns_cookie == host_netns_cookie)
		return 1;
	if (w->flags & EGRESSD_WORKLOAD_F_AUDIT)
		verdict = EGRESSD_VERDICT_AUDIT;
	egressd_count(EGRESSD_HOOK_SOCK_CREATE, reason, verdict != EGRESSD_VERDICT_DENIED);
	egressd_flow_record(cgroup_id, &none, 0, EGRESSD_RAW_FLOW_PROTOCOL, verdict, reason, w->scope_id,
			    EGRESSD_HOOK_SOCK_CREATE);
	return verdict != EGRESSD_VERDICT_DENIED;
}

#endif /* EGRESSD_BPF_SOCK_CREATE_H */
