/* The packet-level backstop on a workload's host-side interface (TC, tcx or
 * clsact). The socket hooks decide at connect(); this catches what never
 * passes them (raw and packet sockets) and counts bytes and packets per flow.
 *
 * From the workload, a VLAN-tagged frame or one whose headers can't be read
 * is dropped (`malformed_packet`), and a packet passes when
 *  1. it is not IP, or stays on the link (link-local, link-scope multicast);
 *  then, for the rest, when its source is one of the workload's own
 *  addresses (else `spoofed_address`) and its destination is not (else
 *  `hairpin`: the node would route it straight back in, where DNS learning
 *  and the inbound rules would take a forged source for a real peer), and
 *  1b. it is neighbour discovery that leaves by the interface it came in on;
 *  2. its flow passed connect() (allowed, redirected or audited): so a TTL
 *     expiry or a policy change never cuts an established connection, as
 *     at the socket hooks;
 *  3. it answers a connection that came into the workload (`tc_inbound`:
 *     TCP, UDP, and ICMP echo by identifier);
 *  4. egressd_decide() allows it, as it would a connect() (a redirected
 *     destination reached directly is a bypass of the gateway: dropped).
 * Otherwise it is dropped and counted (audit: passed and counted).
 * Towards the workload nothing is dropped: bytes are counted, and new
 * inbound connections are recorded for rule 3 (never from the workload's own
 * address). */
#ifndef EGRESSD_BPF_TC_BACKSTOP_H
#define EGRESSD_BPF_TC_BACKSTOP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"
#include "lib/flows.h"
#include "lib/maps.h"
#include "lib/policy.h"
#include "lib/tc_packet.h"

/* tcx and clsact agree on these: -1 hands the packet on to the next program
 * (a CNI's), 2 drops it. */
#define EGRESSD_TC_NEXT (-1)
#define EGRESSD_TC_DROP 2

static __always_inline __u64 egressd_tc_packets(const struct __sk_buff *skb)
{
	__u32 segs = skb->gso_segs;

	return segs > 1 ? segs : 1;
}

static __always_inline void egressd_tc_flow_key(struct egressd_flow_key *key, __u64 cgroup_id,
						const struct egressd_addr *peer, __u16 port, __u8 protocol)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->cgroup_id = cgroup_id;
	__builtin_memcpy(key->addr, peer->w, sizeof(key->addr));
	key->port = port;
	key->protocol = protocol;
}

static __always_inline int egressd_flow_passed_connect(const struct egressd_flow_value *v)
{
	return v->connects_allowed || v->connects_redirected || v->connects_audited;
}

static __always_inline void egressd_tc_count_out(struct egressd_flow_value *v, const struct __sk_buff *skb,
						 const struct egressd_packet *p)
{
	__sync_fetch_and_add(&v->bytes_out, p->l3_len);
	__sync_fetch_and_add(&v->packets_out, egressd_tc_packets(skb));
}

/* An echo request that came in is keyed by its identifier on both sides;
 * only the matching echo reply answers it. */
static __always_inline int egressd_tc_is_inbound_reply(__u32 ifindex, const struct egressd_packet *p)
{
	struct egressd_tc_inbound_key k = {
		.ifindex = ifindex, .remote_port = p->dport, .local_port = p->sport, .protocol = p->protocol
	};

	if (p->protocol == IPPROTO_ICMP || p->protocol == IPPROTO_ICMPV6) {
		k.remote_port = k.local_port = p->icmp_echo_id;
		/* Anything but an echo reply gets a key no request made. */
		k.protocol = egressd_packet_is_echo_reply(p) ? p->protocol : 0;
	}

	__builtin_memcpy(k.addr, p->dst.w, sizeof(k.addr));
	return bpf_map_lookup_elem(&tc_inbound, &k) != NULL;
}

/* One of the workload's own addresses (the agent reads them from its
 * interface). A global function: the verifier walks the loop once, not once
 * per caller and path. */
__noinline int egressd_tc_is_own_address(const struct egressd_tc_iface_value *iface, const struct egressd_addr *a)
{
	__u32 n;

	if (!iface || !a)
		return 0;
	n = iface->addr_count;

	for (__u32 i = 0; i < EGRESSD_TC_IFACE_ADDRS; i++) {
		if (i >= n)
			break;
		if (egressd_addr_equals(iface->addrs[i], a))
			return 1;
	}
	return 0;
}

/* Neighbour discovery to an address that isn't link-local passes only as a
 * valid ND message (hop limit 255, RFC 4861 7.1) that the node will not send
 * on: to the node itself, nowhere (no route, forwarding off), or to a
 * neighbour on the very link it came from (this interface, or the bridge it
 * is a port of). A neighbour on another of the node's links is forwarding,
 * not ND. So a raw socket can't carry data to another host dressed as ND. */
static __always_inline int egressd_tc_nd_stays_on_link(struct __sk_buff *skb, const struct egressd_tc_iface_value *iface,
						       const struct egressd_packet *p)
{
	struct bpf_fib_lookup fib = {};
	long rc;

	if (p->hop_limit != 255)
		return 0;
	fib.family = 10; /* AF_INET6 */
	fib.l4_protocol = IPPROTO_ICMPV6;
	fib.ifindex = skb->ifindex;
	__builtin_memcpy(fib.ipv6_src, p->src.w, sizeof(fib.ipv6_src));
	__builtin_memcpy(fib.ipv6_dst, p->dst.w, sizeof(fib.ipv6_dst));
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_NOT_FWDED || rc == BPF_FIB_LKUP_RET_FWD_DISABLED)
		return 1;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return 0;
	/* The lookup wrote the next hop (the destination itself when no
	 * gateway is in the way) and the interface it leaves by. */
	if (fib.ifindex != skb->ifindex && (!iface->bridge_ifindex || fib.ifindex != iface->bridge_ifindex))
		return 0;
	return egressd_addr_equals(fib.ipv6_dst, &p->dst);
}

/* A decision the backstop made itself (rule 4 or a drop): flow entry,
 * counters, and an event for drops and audits (rate-limited per flow). */
static __always_inline void egressd_tc_record(const struct egressd_flow_key *key, const struct __sk_buff *skb,
					      const struct egressd_packet *p, __u32 verdict, __u32 reason,
					      __u32 scope_id)
{
	struct egressd_flow_value *v;
	__u64 now;
	int created;

	if (verdict == EGRESSD_VERDICT_DENIED)
		egressd_flow_count(EGRESSD_FLOW_TC_DROPPED);
	else if (verdict == EGRESSD_VERDICT_AUDIT)
		egressd_flow_count(EGRESSD_FLOW_TC_AUDITED);
	if (!flow_stats_enabled)
		return;
	v = egressd_flow_get(key, scope_id, &created);
	if (!v)
		return;
	now = bpf_ktime_get_ns();
	v->last_seen_ns = now;
	v->last_reason = reason;
	if (verdict == EGRESSD_VERDICT_DENIED) {
		__sync_fetch_and_add(&v->packets_dropped, egressd_tc_packets(skb));
	} else {
		egressd_tc_count_out(v, skb, p);
		if (verdict == EGRESSD_VERDICT_ALLOWED && !created)
			return;
	}
	if (egressd_flow_should_emit(v, verdict, created, now))
		egressd_flow_emit(key, verdict, reason, scope_id, EGRESSD_HOOK_TC,
				  EGRESSD_EVENT_F_PACKET | (created ? EGRESSD_EVENT_F_NEW_FLOW : 0), now);
}

static __always_inline int egressd_tc_from_workload(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct egressd_tc_iface_value *iface = bpf_map_lookup_elem(&tc_ifaces, &ifindex);
	struct egressd_workload_value *w;
	struct egressd_workload_key wk;
	struct egressd_flow_value *v;
	struct egressd_flow_key key;
	struct egressd_decision d;
	struct egressd_packet p;
	enum egressd_packet_kind kind;

	if (!iface)
		return EGRESSD_TC_NEXT;
	kind = egressd_parse_packet(skb, &p);
	if (kind == EGRESSD_PACKET_NOT_IP)
		return EGRESSD_TC_NEXT;
	if (kind == EGRESSD_PACKET_IP && egressd_packet_is_link_scope(&p))
		return EGRESSD_TC_NEXT;
	wk.cgroup_id = iface->cgroup_id;
	w = bpf_map_lookup_elem(&workloads, &wk);
	if (!w) /* no longer a workload: the agent detaches soon */
		return EGRESSD_TC_NEXT;
	egressd_tc_flow_key(&key, iface->cgroup_id, &p.dst, p.dport, p.protocol);
	if (kind == EGRESSD_PACKET_MALFORMED) {
		/* Unreadable headers could hide anything: fail closed. */
		d = egressd_decision(EGRESSD_VERDICT_DENIED, EGRESSD_REASON_MALFORMED_PACKET);
	} else if (!egressd_tc_is_own_address(iface, &p.src)) {
		d = egressd_decision(EGRESSD_VERDICT_DENIED, EGRESSD_REASON_SPOOFED_ADDRESS);
	} else if (egressd_tc_is_own_address(iface, &p.dst)) {
		d = egressd_decision(EGRESSD_VERDICT_DENIED, EGRESSD_REASON_HAIRPIN);
	} else if (egressd_packet_is_nd(&p) && egressd_tc_nd_stays_on_link(skb, iface, &p)) {
		return EGRESSD_TC_NEXT;
	} else {
		v = bpf_map_lookup_elem(&flows, &key);
		if (v && egressd_flow_passed_connect(v)) {
			egressd_tc_count_out(v, skb, &p);
			return EGRESSD_TC_NEXT;
		}
		if (egressd_tc_is_inbound_reply(ifindex, &p))
			return EGRESSD_TC_NEXT;
		/* A later IPv4 fragment has no ports: only an any-port entry fits. */
		d = egressd_decide(w->scope_id, w->flags, &p.dst, p.dport, p.protocol);
		if (d.verdict == EGRESSD_VERDICT_REDIRECTED) /* around the gateway */
			d.verdict = EGRESSD_VERDICT_DENIED;
	}
	if (d.verdict == EGRESSD_VERDICT_DENIED && (w->flags & EGRESSD_WORKLOAD_F_AUDIT))
		d.verdict = EGRESSD_VERDICT_AUDIT;
	egressd_tc_record(&key, skb, &p, d.verdict, d.reason, w->scope_id);
	return d.verdict == EGRESSD_VERDICT_DENIED ? EGRESSD_TC_DROP : EGRESSD_TC_NEXT;
}

/* Towards the workload: count replies on their flow; remember connections
 * that come in (TCP SYN, UDP, ICMP echo requests), so the workload's answers
 * pass rule 3. */
static __always_inline int egressd_tc_to_workload(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct egressd_tc_iface_value *iface = bpf_map_lookup_elem(&tc_ifaces, &ifindex);
	struct egressd_tc_inbound_key in = {};
	struct egressd_flow_value *v;
	struct egressd_flow_key key;
	struct egressd_packet p;
	__u64 now;

	if (!iface || egressd_parse_packet(skb, &p) != EGRESSD_PACKET_IP)
		return EGRESSD_TC_NEXT;
	/* Its own address as the source: its own packet routed back in (the
	 * way out drops those), never a peer to answer. */
	if (egressd_tc_is_own_address(iface, &p.src))
		return EGRESSD_TC_NEXT;
	if (flow_stats_enabled) {
		egressd_tc_flow_key(&key, iface->cgroup_id, &p.src, p.sport, p.protocol);
		v = bpf_map_lookup_elem(&flows, &key);
		if (v) {
			__sync_fetch_and_add(&v->bytes_in, p.l3_len);
			__sync_fetch_and_add(&v->packets_in, egressd_tc_packets(skb));
			/* Its answers pass rule 2. A flow that only has drops
			 * (or denied connects) must not hide a new connection
			 * from the same peer and port: record it below. */
			if (egressd_flow_passed_connect(v))
				return EGRESSD_TC_NEXT;
		}
	}
	if (egressd_packet_is_echo_request(&p)) {
		in.remote_port = in.local_port = p.icmp_echo_id;
	} else if (p.protocol == IPPROTO_TCP || p.protocol == IPPROTO_UDP) {
		if (p.protocol == IPPROTO_TCP &&
		    (p.tcp_flags & (EGRESSD_TCP_FLAG_SYN | EGRESSD_TCP_FLAG_ACK)) != EGRESSD_TCP_FLAG_SYN)
			return EGRESSD_TC_NEXT;
		in.remote_port = p.sport;
		in.local_port = p.dport;
	} else {
		return EGRESSD_TC_NEXT;
	}
	in.ifindex = ifindex;
	__builtin_memcpy(in.addr, p.src.w, sizeof(in.addr));
	in.protocol = p.protocol;
	if (!bpf_map_lookup_elem(&tc_inbound, &in)) {
		now = bpf_ktime_get_ns();
		bpf_map_update_elem(&tc_inbound, &in, &now, BPF_ANY);
	}
	return EGRESSD_TC_NEXT;
}

#endif /* EGRESSD_BPF_TC_BACKSTOP_H */
