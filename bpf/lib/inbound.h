/* Answers to UDP that came in. A workload's UDP server answers its clients
 * with sendto() (or connect() then send), which the socket hooks would judge
 * as new egress and deny under REGISTRY_ONLY. So the ingress hook notes each
 * peer that sends to a workload's *unconnected* socket from off the node
 * (`inbound_udp`: workload, peer, its port, our port -> when), and a UDP
 * decision that would deny passes as an answer when the socket's own port
 * heard from that peer within EGRESSD_INBOUND_REPLY_WINDOW_NS, as a stateful
 * firewall lets answers out. Connected sockets (clients) are skipped: their
 * peer was already allowed. Only unicasts from off the namespace addressed
 * to the socket count: looped-back datagrams (lo) and the node's own
 * broadcast/multicast copies a workload could forge itself never do. */
#ifndef EGRESSD_BPF_INBOUND_H
#define EGRESSD_BPF_INBOUND_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "lib/addr.h"
#include "lib/identity.h"
#include "lib/maps.h"
#include "lib/skb_l4.h"

static __always_inline void egressd_inbound_key(struct egressd_inbound_udp_key *k, __u64 cgroup_id,
						const struct egressd_addr *peer, __u16 remote_port, __u16 local_port)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->cgroup_id = cgroup_id;
	__builtin_memcpy(k->addr, peer->w, sizeof(k->addr));
	k->remote_port = remote_port;
	k->local_port = local_port;
}

/* cgroup_skb/ingress: note the peer of a datagram to an unconnected socket.
 * Only a unicast addressed to that socket counts (egressd_rx_is_unicast_to):
 * a looped-back broadcast or multicast copy carries whatever source a raw
 * socket in the pod wrote, and never passed an egress hook. */
static __always_inline void egressd_note_inbound_udp(struct __sk_buff *skb, const struct egressd_l4 *p,
						     const struct egressd_rx_sock *rs)
{
	struct egressd_inbound_udp_key k;
	__u64 cgroup_id = 0, now, *seen;

	if (rs->protocol != IPPROTO_UDP || rs->connected || p->protocol != IPPROTO_UDP)
		return; /* not UDP, or connected: its peer was allowed at connect */
	if (!egressd_rx_is_unicast_to(skb, p, rs))
		return;
	if (!egressd_find_workload_skb_id(skb, &cgroup_id))
		return;
	egressd_inbound_key(&k, cgroup_id, &p->src, p->sport, p->dport);
	now = bpf_ktime_get_coarse_ns();
	seen = bpf_map_lookup_elem(&inbound_udp, &k);
	if (seen && now - *seen < EGRESSD_INBOUND_REFRESH_NS)
		return; /* fresh enough: no write per datagram */
	bpf_map_update_elem(&inbound_udp, &k, &now, BPF_ANY);
}

/* connect()/sendmsg() of UDP from local_port to peer:port: an answer? */
static __always_inline int egressd_is_inbound_reply(__u64 cgroup_id, const struct egressd_addr *peer, __u16 port,
						    __u16 local_port)
{
	struct egressd_inbound_udp_key k;
	__u64 *seen;

	if (!local_port) /* not bound yet: it never received anything */
		return 0;
	egressd_inbound_key(&k, cgroup_id, peer, port, local_port);
	seen = bpf_map_lookup_elem(&inbound_udp, &k);
	return seen && bpf_ktime_get_coarse_ns() - *seen < EGRESSD_INBOUND_REPLY_WINDOW_NS;
}

#endif /* EGRESSD_BPF_INBOUND_H */
