/* Answers to UDP that came in. A workload's UDP server answers its clients
 * with sendto() (or connect() then send), which the socket hooks would judge
 * as new egress and deny under REGISTRY_ONLY. So the ingress hook notes each
 * peer that sends to a workload's *unconnected* socket from off the node
 * (`inbound_udp`: workload, peer, its port, our port -> when), and a UDP
 * decision that would deny passes as an answer when the socket's own port
 * heard from that peer within EGRESSD_INBOUND_REPLY_WINDOW_NS, as a stateful
 * firewall lets answers out. Connected sockets (clients) are skipped: their
 * peer was already allowed. Looped-back datagrams never count: a workload
 * could forge them itself. */
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

/* cgroup_skb/ingress: note the peer of a datagram to an unconnected socket. */
static __always_inline void egressd_note_inbound_udp(struct __sk_buff *skb)
{
	struct egressd_inbound_udp_key k;
	struct bpf_sock *sk = skb->sk;
	struct egressd_l4 p;
	__u64 cgroup_id = 0, now, *seen;

	if (skb->ingress_ifindex == EGRESSD_LOOPBACK_IFINDEX || !sk)
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_UDP || sk->dst_port) /* not UDP, or connected */
		return;
	if (egressd_parse_l4(skb, &p) < 0 || p.protocol != IPPROTO_UDP)
		return;
	if (!egressd_find_workload_skb_id(skb, &cgroup_id))
		return;
	egressd_inbound_key(&k, cgroup_id, &p.src, p.sport, p.dport);
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
