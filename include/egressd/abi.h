/* The one kernel/user ABI of egressd: every struct and enum that crosses
 * between the BPF programs and the agent. Plain C, fixed-width types,
 * explicit padding; tests/unit/abi_layout_test.cc pins sizes and offsets.
 * Bump EGRESSD_ABI_VERSION on any layout change: a restarted agent that finds
 * pinned maps of another version rebuilds them instead of misreading them. */
#ifndef EGRESSD_ABI_H
#define EGRESSD_ABI_H

#include <linux/types.h>

#define EGRESSD_ABI_VERSION 1

/* Capacities. Scope membership is a bitmap, so scopes are bounded by it. */
#define EGRESSD_MAX_SCOPES 256
#define EGRESSD_SCOPE_WORDS (EGRESSD_MAX_SCOPES / 64)
#define EGRESSD_MAX_WORKLOADS 4096
#define EGRESSD_MAX_DEST_PREFIXES 65536
#define EGRESSD_MAX_DEST_PORTS 131072
/* How many cgroup levels below the root the hooks look for a workload. */
#define EGRESSD_MAX_CGROUP_DEPTH 16

/* Verdicts, also the `verdict` metric label. */
enum egressd_verdict {
	EGRESSD_VERDICT_ALLOWED = 0,
	EGRESSD_VERDICT_DENIED = 1,
	EGRESSD_VERDICT_REDIRECTED = 2,
	EGRESSD_VERDICT_AUDIT = 3,
	EGRESSD_VERDICT_COUNT = 4,
};

/* Why a verdict was reached, also the `reason` label and access-log field. */
enum egressd_reason {
	EGRESSD_REASON_NOT_WORKLOAD = 0, /* socket outside every workload: untouched */
	EGRESSD_REASON_LOOPBACK = 1,
	EGRESSD_REASON_ALWAYS_ALLOWED = 2, /* --cluster-cidr or trusted DNS server */
	EGRESSD_REASON_REGISTRY_MATCH = 3, /* a visible ServiceEntry covers ip:port */
	EGRESSD_REASON_ALLOW_ANY = 4,      /* no match, scope is ALLOW_ANY */
	EGRESSD_REASON_NOT_IN_REGISTRY = 5, /* no match, scope is REGISTRY_ONLY */
	EGRESSD_REASON_UNKNOWN_SCOPE = 6,  /* workload known, its scope not yet written */
	EGRESSD_REASON_COUNT = 7,
};

enum egressd_outbound_mode {
	EGRESSD_MODE_ALLOW_ANY = 0,
	EGRESSD_MODE_REGISTRY_ONLY = 1,
};

/* Hook that produced a counter or event. */
enum egressd_hook {
	EGRESSD_HOOK_CONNECT4 = 0,
	EGRESSD_HOOK_CONNECT6 = 1,
	EGRESSD_HOOK_SENDMSG4 = 2,
	EGRESSD_HOOK_SENDMSG6 = 3,
	EGRESSD_HOOK_COUNT = 4,
};

/* Map `abi_info` (array, 1 entry): written once at creation. */
struct egressd_abi_info {
	__u32 version;
	__u32 reserved;
};

/* Map `workloads` (hash): workload cgroup id -> its scope. */
struct egressd_workload_key {
	__u64 cgroup_id;
};

#define EGRESSD_WORKLOAD_F_GATEWAY (1u << 0) /* egress gateway: never redirected */
#define EGRESSD_WORKLOAD_F_AUDIT (1u << 1)   /* would-be denials are allowed, recorded */

struct egressd_workload_value {
	__u32 scope_id;
	__u32 flags;
};

/* Map `scopes` (array, EGRESSD_MAX_SCOPES): per-scope settings. */
#define EGRESSD_SCOPE_F_ACTIVE (1u << 0)

struct egressd_scope_value {
	__u32 flags;
	__u8 outbound_mode; /* enum egressd_outbound_mode */
	__u8 pad[3];
	__u64 name_hash; /* stable hash of "namespace/sidecar": lets a restart keep ids */
};

/* Map `dest_prefixes` (LPM trie): destination address -> destination class.
 * IPv4 is stored v4-mapped (::ffff:a.b.c.d, prefixlen + 96) so one trie and
 * one lookup serve connect4, connect6 and v4-mapped IPv6. Each distinct
 * prefix is its own class; the compiler folds the ports of every covering
 * (shorter) prefix into it, so the longest match alone decides. */
struct egressd_prefix_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct egressd_prefix_value {
	__u32 class_id;
};

/* Map `dest_ports` (hash): (class, port, L4 protocol) -> which scopes may go. */
struct egressd_port_key {
	__u32 class_id;
	__u16 port; /* host byte order */
	__u8 protocol; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

#define EGRESSD_PORT_F_ALWAYS (1u << 0) /* every workload, any mode (cluster, DNS) */

struct egressd_port_value {
	__u64 allow_scopes[EGRESSD_SCOPE_WORDS];
	__u32 flags;
	__u32 service_id; /* first ServiceEntry that allowed it: for logs and explain */
};

/* Map `verdict_counters` (per-CPU array, HOOK_COUNT * REASON_COUNT entries):
 * index hook * EGRESSD_REASON_COUNT + reason; the agent sums the CPUs. */
struct egressd_counter {
	__u64 allowed;
	__u64 denied;
};

#endif /* EGRESSD_ABI_H */
