/* The kernel maps of egressd, with BTF so bpftool prints named fields.
 * Names are a contract: the agent pins each as <bpffs>/<name>. Layouts and
 * capacities come from the one ABI header. */
#ifndef EGRESSD_BPF_MAPS_H
#define EGRESSD_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "egressd/abi.h"

/* Key 0 holds the ABI version the maps were created with. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct egressd_abi_info);
} abi_info SEC(".maps");

/* Workload cgroup id -> scope. Preallocated: small, and lookups in the
 * connect path must never depend on an allocator. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EGRESSD_MAX_WORKLOADS);
	__type(key, struct egressd_workload_key);
	__type(value, struct egressd_workload_value);
} workloads SEC(".maps");

/* Pods parents (lib/identity.h) and attached backstops (lib/sock_create.h),
 * written by the agent as cgroups and interfaces come and go. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EGRESSD_MAX_PODS_PARENTS);
	__type(key, struct egressd_workload_key);
	__type(value, struct egressd_pods_parent_value);
} pods_parents SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EGRESSD_MAX_WORKLOADS);
	__type(key, struct egressd_workload_key);
	__type(value, struct egressd_backstop_value);
} backstops SEC(".maps");

/* Scope id -> settings; a slot without EGRESSD_SCOPE_F_ACTIVE is unused. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EGRESSD_MAX_SCOPES);
	__type(key, __u32);
	__type(value, struct egressd_scope_value);
} scopes SEC(".maps");

/* Destination prefix (IPv4 v4-mapped) -> class. LPM tries must not prealloc. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, EGRESSD_MAX_DEST_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct egressd_prefix_key);
	__type(value, struct egressd_prefix_value);
} dest_prefixes SEC(".maps");

/* (class, port, protocol) -> scopes allowed. Not preallocated: the capacity
 * is sized for large meshes, most nodes use a small fraction of it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EGRESSD_MAX_DEST_PORTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct egressd_port_key);
	__type(value, struct egressd_port_value);
} dest_ports SEC(".maps");

/* index hook * EGRESSD_REASON_COUNT + reason; per CPU, the agent sums. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EGRESSD_HOOK_COUNT * EGRESSD_REASON_COUNT);
	__type(key, __u32);
	__type(value, struct egressd_counter);
} verdict_counters SEC(".maps");

/* ---- Egress gateway redirect (lib/gateway.h) ---- */

/* Gateway id -> address and port a routed connect() is rewritten to. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EGRESSD_MAX_GATEWAYS);
	__type(key, __u32);
	__type(value, struct egressd_gateway_value);
} gateways SEC(".maps");

/* Socket cookie -> a redirected socket's original destination, for
 * getpeername(), when its slot in `redirected_slots` (below, tried first) is
 * held by another socket. Preallocated LRU, not sk_storage: sk_storage
 * allocates on every redirected connect; this map never allocates on the
 * connect path. cgroup/sock_release deletes the entry; LRU bounds any a
 * missed release leaves (cookies are never reused). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EGRESSD_MAX_REDIRECTED);
	__type(key, struct egressd_redirect_key);
	__type(value, struct egressd_redirect_state);
} redirected SEC(".maps");

/* The fast path in front of `redirected`: slot cookie & (N - 1), claimed by
 * compare-and-swap, never displaced (lib/gateway.h). An array write: no
 * bucket lock, no LRU list, none of the hash insert's cost. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EGRESSD_REDIRECT_SLOTS);
	__type(key, __u32);
	__type(value, struct egressd_redirect_slot);
} redirected_slots SEC(".maps");

/* ---- Connected UDP, decided per datagram (lib/udp_connect.h) ---- */

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct egressd_udp_connect_verdict);
} udp_connect_verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EGRESSD_UDP_PENDING_SLOTS);
	__type(key, __u32);
	__type(value, struct egressd_udp_pending_slot);
} udp_pending SEC(".maps");

/* ---- DNS learning (lib/dns_learn.h) ---- */

/* Trusted resolvers (address, port), written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EGRESSD_MAX_DNS_SERVERS);
	__type(key, struct egressd_dns_server_key);
	__type(value, struct egressd_dns_server_value);
} dns_servers SEC(".maps");

/* Host name suffix hash -> host classes; written by the agent (compiler). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EGRESSD_MAX_DNS_NAMES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct egressd_dns_name_key);
	__type(value, struct egressd_dns_name_value);
} dns_names SEC(".maps");

/* (scope, IP) -> host classes, written by the kernel on the receive path.
 * LRU: when full, the least recently used entry makes room. Preallocated,
 * so a learn never waits on an allocator in softirq. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EGRESSD_MAX_DNS_LEARNED);
	__type(key, struct egressd_dns_learned_key);
	__type(value, struct egressd_dns_learned_value);
} dns_learned SEC(".maps");

/* (socket cookie, DNS id) -> the question sent; LRU bounds abandoned ones. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EGRESSD_MAX_DNS_PENDING);
	__type(key, struct egressd_dns_pending_key);
	__type(value, struct egressd_dns_pending_value);
} dns_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EGRESSD_DNS_COUNTER_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} dns_counters SEC(".maps");

/* What the kernel parser can't handle, for the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EGRESSD_DNS_RINGBUF_SIZE);
} dns_punt SEC(".maps");

/* ---- Observability (lib/flows.h, lib/tc_backstop.h) ---- */

/* Per-flow stats; LRU so the busiest flows stay. `bpftool map dump pinned
 * <bpffs>/flows` prints the named fields. Preallocated: the connect path
 * never waits on an allocator. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EGRESSD_MAX_FLOWS);
	__type(key, struct egressd_flow_key);
	__type(value, struct egressd_flow_value);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EGRESSD_FLOW_COUNTER_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} flow_counters SEC(".maps");

/* New flows, denials, redirects and audits, for the agent's access log. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EGRESSD_EVENTS_RINGBUF_SIZE);
} flow_events SEC(".maps");

/* Peers that sent UDP into a workload's unconnected sockets (lib/inbound.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EGRESSD_MAX_INBOUND_UDP);
	__type(key, struct egressd_inbound_udp_key);
	__type(value, __u64);
} inbound_udp SEC(".maps");

/* Host-side ifindex -> workload, written by the agent when it attaches TC. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EGRESSD_MAX_TC_IFACES);
	__type(key, __u32);
	__type(value, struct egressd_tc_iface_value);
} tc_ifaces SEC(".maps");

/* Connections into a workload, seen by TC on the way in: their replies pass. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EGRESSD_MAX_TC_INBOUND);
	__type(key, struct egressd_tc_inbound_key);
	__type(value, __u64);
} tc_inbound SEC(".maps");

#endif /* EGRESSD_BPF_MAPS_H */
