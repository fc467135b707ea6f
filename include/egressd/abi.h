/* The one kernel/user ABI of egressd: every struct and enum that crosses
 * between the BPF programs and the agent. Plain C, fixed-width types,
 * explicit padding; tests/unit/abi_layout_test.cc pins sizes and offsets.
 * Bump EGRESSD_ABI_VERSION on any layout change: a restarted agent that finds
 * pinned maps of another version rebuilds them instead of misreading them. */
#ifndef EGRESSD_ABI_H
#define EGRESSD_ABI_H

#include <linux/types.h>

#define EGRESSD_ABI_VERSION 9

/* Capacities. Scope membership is a bitmap, so scopes are bounded by it. */
#define EGRESSD_MAX_SCOPES 256
#define EGRESSD_SCOPE_WORDS (EGRESSD_MAX_SCOPES / 64)
#define EGRESSD_MAX_WORKLOADS 4096
/* Pods parents, excluded pods and one entry per workload the agent enforces
 * (EGRESSD_PODS_WORKLOAD): room for every workload twice over, so a workload
 * that finds no room in `workloads` still has its deny entry here. */
#define EGRESSD_MAX_PODS_PARENTS 16384
#define EGRESSD_MAX_DEST_PREFIXES 65536
#define EGRESSD_MAX_DEST_PORTS 131072
#define EGRESSD_MAX_GATEWAYS 64 /* egress gateway (address, port) targets; id 0 = none */
#define EGRESSD_MAX_REDIRECTED 65536 /* redirected sockets remembered for getpeername */
#define EGRESSD_REDIRECT_SLOTS 65536 /* fast path for those: cookie-indexed slots, power of two */
#define EGRESSD_UDP_PENDING_SLOTS 4096 /* UDP sockets between an allowed connect() and their first send; power of two */
/* DNS learning (docs/DNS_LEARNING.md). */
#define EGRESSD_MAX_DNS_NAMES 16384    /* ServiceEntry hosts, exact and wildcard */
#define EGRESSD_MAX_DNS_LEARNED 65536  /* (scope, IP) pairs learned from answers */
#define EGRESSD_MAX_DNS_PENDING 16384  /* queries waiting for their answer */
#define EGRESSD_MAX_DNS_SERVERS 64     /* trusted resolver (address, port) pairs */
#define EGRESSD_DNS_CLASSES_PER_IP 4   /* hosts remembered per learned IP */
#define EGRESSD_DNS_RNAME_SIZE 256     /* reversed wire name, as dns_parse.h */
#define EGRESSD_DNS_PUNT_MAX 4096      /* payload bytes handed to the agent */
#define EGRESSD_DNS_RINGBUF_SIZE (1u << 22)
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
	EGRESSD_REASON_DNS_LEARNED = 7,    /* the IP came in a trusted DNS answer for an
					    * allowed host, to this scope, not expired */
	EGRESSD_REASON_GATEWAY_ROUTE = 8,  /* Istio routes (host, port) via the egress
					    * gateway: connect() rewritten to it; denied
					    * if the gateway slot is missing */
	EGRESSD_REASON_GATEWAY_WORKLOAD = 9, /* the egress gateway itself: exempt from
					      * outboundTrafficPolicy, never redirected */
	EGRESSD_REASON_INBOUND_REPLY = 10, /* UDP to a peer that sent to this socket's
					    * port within the window: an answer
					    * (map `inbound_udp`) */
	EGRESSD_REASON_UNKNOWN_WORKLOAD = 11, /* a cgroup below a pods parent that no
					       * workload names yet (--unknown-pods deny):
					       * only loopback and ALWAYS entries pass */
	EGRESSD_REASON_BACKSTOP_PENDING = 12, /* a raw or packet socket refused: the
					       * workload's TC backstop is not attached yet */
	/* The TC backstop's own refusals (lib/tc_backstop.h): */
	EGRESSD_REASON_MALFORMED_PACKET = 13, /* headers it will not read: cut short,
					       * or VLAN-tagged (a pod's veth carries no tags) */
	EGRESSD_REASON_SPOOFED_ADDRESS = 14,  /* source is none of the workload's addresses */
	EGRESSD_REASON_HAIRPIN = 15,          /* to the workload's own address, through the
					       * node and back in */
	EGRESSD_REASON_COUNT = 16,
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
	EGRESSD_HOOK_SOCK_CREATE = 4, /* raw and packet sockets (lib/sock_create.h) */
	EGRESSD_HOOK_COUNT = 5,
};

/* Map `abi_info` (array, 1 entry): the version, written once at creation,
 * and flags about the maps' state that outlive the programs (pinned). */
struct egressd_abi_info {
	__u32 version;
	__u32 flags; /* EGRESSD_ABI_F_*; sticky: set, never cleared */
};

/* The `redirected` LRU may hold an entry: set by the agent before it writes
 * the first gateway into `gateways` (no redirect can happen before), and
 * when it loads programs over a `redirected` map that is not empty (an older
 * build set no flag). Until then sock_release skips that map's lookup. */
#define EGRESSD_ABI_F_REDIRECT_LRU_USED (1u << 0)

/* Map `workloads` (hash): workload cgroup id -> its scope. */
struct egressd_workload_key {
	__u64 cgroup_id;
};

#define EGRESSD_WORKLOAD_F_GATEWAY (1u << 0) /* egress gateway: never redirected */
#define EGRESSD_WORKLOAD_F_AUDIT (1u << 1)   /* would-be denials are allowed, recorded */
/* Never in the map: how lib/identity.h describes a cgroup below a pods parent
 * that no workload names (EGRESSD_REASON_UNKNOWN_WORKLOAD). */
#define EGRESSD_WORKLOAD_F_UNKNOWN (1u << 2)
/* The scope id of such a cgroup: no scope has it. */
#define EGRESSD_SCOPE_NONE EGRESSD_MAX_SCOPES

struct egressd_workload_value {
	__u32 scope_id;
	__u32 flags;
};

/* Map `pods_parents` (hash): cgroup id -> what lib/identity.h makes of the
 * tasks below it. Written by the agent, not map sync. */
/* A directory whose child cgroups are expected to be workloads (the parent
 * directories of the registered ones; in Kubernetes the QoS directories). A
 * task below one, in no workload, is an unknown workload. */
#define EGRESSD_PODS_PARENT 1
/* A pod left alone (--exclude-namespace, egressd.io/enforce: "false", the
 * agent's own): tasks in it and below it are untouched, never unknown. Keyed
 * EGRESSD_PODS_EXCLUDED_KEY(its cgroup id), apart from the parents: the walk
 * up the task's cgroups never meets it; the unknown pod-level cgroup the walk
 * found is then looked up once. (Bit 63 is in no cgroup id: kernfs ids are
 * an inode number and a generation counter that never gets that far.) */
#define EGRESSD_PODS_EXCLUDED 2
#define EGRESSD_PODS_EXCLUDED_KEY(cgroup_id) ((cgroup_id) | (1ULL << 63))
/* A workload the agent enforces, keyed by its own cgroup id, written before
 * its `workloads` entry and removed after it. The walk meets it only when no
 * `workloads` entry covers the task (none written: no room, a failed write,
 * no scope slot for it): the workload is then decided with no scope, reason
 * UNKNOWN_SCOPE (denied; --fail-mode open audits it), never left untouched. */
#define EGRESSD_PODS_WORKLOAD 3

struct egressd_pods_parent_value {
	__u32 kind; /* EGRESSD_PODS_* */
	__u32 pad;
};

/* Map `backstops` (hash): workload cgroup id -> its TC backstop is attached
 * (or it can have none: a shared network namespace). Without an entry, a
 * workload's raw and packet sockets are refused (lib/sock_create.h). */
#define EGRESSD_BACKSTOP_ATTACHED 1
#define EGRESSD_BACKSTOP_NONE 2 /* no backstop possible: sockets untouched */

struct egressd_backstop_value {
	__u32 state; /* EGRESSD_BACKSTOP_* */
	__u32 pad;
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

/* redirect_scopes rides on the same entry as allow_scopes: the connect path
 * already holds it, so deciding "redirect?" costs one bit test, not a second
 * hash lookup for every allowed flow. A scope's redirect bit means allowed
 * and rewritten to gateways[gateway_id]. */
struct egressd_port_value {
	__u64 allow_scopes[EGRESSD_SCOPE_WORDS];
	__u64 redirect_scopes[EGRESSD_SCOPE_WORDS];
	__u32 flags;
	__u32 service_id; /* first ServiceEntry that allowed it: for logs and explain */
	__u32 gateway_id; /* with redirect_scopes: where to; 0 = none */
	__u32 pad;
};

/* Map `gateways` (array, EGRESSD_MAX_GATEWAYS): gateway id -> the egress
 * gateway Service address connect() is rewritten to. Slot 0 stays unused. */
#define EGRESSD_GATEWAY_F_ACTIVE (1u << 0)

struct egressd_gateway_value {
	__u8 addr[16]; /* IPv4 v4-mapped */
	__u16 port;    /* host byte order */
	__u8 family;   /* AF_INET or AF_INET6 */
	__u8 flags;
};

/* A UDP connect()'s decision, kept for the socket's datagrams to that
 * destination (lib/udp_connect.h). */
struct egressd_udp_connect_decision {
	__u64 cgroup_id; /* the workload */
	__u8 addr[16];   /* destination; IPv4 v4-mapped */
	__u16 port;      /* host byte order */
	__u8 verdict;    /* enum egressd_verdict */
	__u8 hook;       /* the connect hook (counters are per hook) */
	__u32 reason;
	__u32 scope_id;
	__u32 pad;
};

/* Map `udp_connect_verdicts` (socket storage): a UDP socket connect()ed to a
 * destination the policy denies (or audits). The connect passes; each
 * datagram the socket sends there is held to this. */
struct egressd_udp_connect_verdict {
	struct egressd_udp_connect_decision decision;
	__u32 active; /* 0 once the socket connect()s somewhere allowed */
	__u32 pad;
};

/* Map `udp_pending` (array, EGRESSD_UDP_PENDING_SLOTS): an allowed UDP
 * connect() whose flow is recorded at the socket's first datagram to that
 * destination, not at the connect. Slot cookie & (EGRESSD_UDP_PENDING_SLOTS
 * - 1), claimed by a compare-and-swap of `cookie` from 0, freed at that
 * datagram or at cgroup/sock_release. */
struct egressd_udp_pending_slot {
	__u64 cookie; /* bpf_get_socket_cookie(); 0: free */
	struct egressd_udp_connect_decision decision;
};

/* Map `redirected` (LRU hash, EGRESSD_MAX_REDIRECTED): socket cookie -> a
 * redirected socket's original destination, which cgroup/getpeername4/6
 * return while the peer is still the gateway. cgroup/sock_release deletes
 * the entry; LRU bounds any a missed release leaves behind. */
struct egressd_redirect_key {
	__u64 cookie; /* bpf_get_socket_cookie() */
};

struct egressd_redirect_state {
	__u8 orig_addr[16]; /* as connect() got it; IPv4 v4-mapped */
	__u8 via_addr[16];  /* the gateway address written instead */
	__u16 orig_port;    /* network byte order, as in bpf_sock_addr */
	__u16 via_port;     /* network byte order */
	__u32 gateway_id;
};

/* Map `redirected_slots` (array, EGRESSD_REDIRECT_SLOTS): the fast path in
 * front of `redirected`. A redirected socket claims slot cookie &
 * (EGRESSD_REDIRECT_SLOTS - 1) with a compare-and-swap of `cookie` from 0 and
 * keeps its state there; a slot held by another socket is never taken over
 * (that socket goes to `redirected`). sock_release clears the state, then
 * gives the slot back (cookie 0) with an atomic exchange. */
struct egressd_redirect_slot {
	__u64 cookie; /* 0 = free */
	struct egressd_redirect_state state;
};

/* Map `verdict_counters` (per-CPU array, HOOK_COUNT * REASON_COUNT entries):
 * index hook * EGRESSD_REASON_COUNT + reason; the agent sums the CPUs. */
struct egressd_counter {
	__u64 allowed;
	__u64 denied;
};

/* ---- DNS learning -------------------------------------------------------
 * A ServiceEntry host is a destination class like a prefix: dest_ports holds
 * {host class, port, protocol} -> scopes. The kernel learns which IPs belong
 * to a host class from DNS answers, per scope. */

/* Map `dns_servers` (hash): trusted resolvers, written by the agent from
 * --dns-server. Only answers from one of these (not on loopback) are read. */
struct egressd_dns_server_key {
	__u8 addr[16]; /* IPv4 v4-mapped */
	__u16 port;    /* host byte order */
	__u8 pad[2];
};

struct egressd_dns_server_value {
	__u32 flags; /* reserved */
};

/* Map `dns_names` (hash): suffix hash of a host's reversed wire name (FNV-1a
 * 64, as bpf/lib/dns_parse.h computes suffix_hash[]) -> the host classes with
 * that name. One name can be both an exact host ("example.com") and the
 * suffix of a wildcard ("*.example.com"); a wildcard never matches its apex. */
struct egressd_dns_name_key {
	__u64 hash;
};

struct egressd_dns_name_value {
	__u32 exact_class;    /* 0: no exact host with this name */
	__u32 wildcard_class; /* 0: no "*." host with this suffix */
	__u64 exact_scopes[EGRESSD_SCOPE_WORDS];    /* scopes that may learn it */
	__u64 wildcard_scopes[EGRESSD_SCOPE_WORDS];
	__u16 rname_len; /* the name itself: a hash match is confirmed bytewise */
	__u8 pad[6];
	__u8 rname[EGRESSD_DNS_RNAME_SIZE];
};

/* Map `dns_learned` (LRU hash): (scope, IP) -> the hosts it resolved to. */
struct egressd_dns_learned_key {
	__u32 scope_id;
	__u8 addr[16]; /* IPv4 v4-mapped */
};

struct egressd_dns_learned_value {
	__u32 class_ids[EGRESSD_DNS_CLASSES_PER_IP]; /* 0 = empty slot */
	__u64 expires_ns; /* CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) */
	__u64 hits;       /* connects it allowed */
};

/* Map `dns_pending` (LRU hash): a query a workload socket sent to a trusted
 * resolver; its answer is learned only if it matches. */
struct egressd_dns_pending_key {
	__u64 cookie; /* socket cookie */
	__u16 id;     /* DNS message id */
	__u8 pad[6];
};

struct egressd_dns_pending_value {
	__u64 qhash; /* suffix hash of the whole question name */
	__u64 expires_ns;
	__u8 resolver[16];
	__u16 resolver_port;
	__u16 qtype;
	__u8 pad[4];
};

/* Map `dns_counters` (per-CPU array, EGRESSD_DNS_COUNTER_COUNT entries). */
enum egressd_dns_counter {
	EGRESSD_DNS_QUERIES = 0,            /* queries to a trusted resolver recorded */
	EGRESSD_DNS_ANSWERS_LEARNED = 1,    /* answers that taught at least one IP */
	EGRESSD_DNS_IPS_LEARNED = 2,        /* (scope, IP) writes */
	EGRESSD_DNS_NEW_ENTRIES = 3,        /* writes that created an entry (eviction estimate) */
	EGRESSD_DNS_REJECTED_UNTRUSTED = 4, /* port-53 answer not from a trusted resolver, or on loopback */
	EGRESSD_DNS_REJECTED_NO_QUERY = 5,  /* no matching query (socket, id, question, resolver) */
	EGRESSD_DNS_NOT_ALLOWED_NAME = 6,   /* no host of the scope matches the name */
	EGRESSD_DNS_PUNTED = 7,             /* handed to the agent (truncated, too complex, TCP) */
	EGRESSD_DNS_PUNT_DROPPED = 8,       /* could not be handed over: ring buffer full */
	EGRESSD_DNS_MALFORMED = 9,          /* answers that are not valid DNS */
	EGRESSD_DNS_NO_ADDRESS = 10,        /* allowed name, answer without A/AAAA (NXDOMAIN, NODATA) */
	EGRESSD_DNS_SPOOFED = 11,           /* workload packets claiming a resolver's source: dropped */
	EGRESSD_DNS_COUNTER_COUNT = 12,
};

/* Ring buffer `dns_punt`: what the kernel parser does not handle. */
#define EGRESSD_DNS_PUNT_F_TCP (1u << 0)        /* a TCP segment (seq valid) */
#define EGRESSD_DNS_PUNT_F_INCOMPLETE (1u << 1) /* payload longer than PUNT_MAX: cut */
#define EGRESSD_DNS_PUNT_F_EGRESS (1u << 2)     /* TCP: the workload's segment to the resolver (queries) */
#define EGRESSD_DNS_PUNT_F_SYN (1u << 3)        /* TCP: SYN (egress) or SYN-ACK (ingress); seq is the ISN */
/* UDP: an answer to an audit workload for a name its scope does not allow:
 * never learned; the agent records the name for `egressctl suggest`. */
#define EGRESSD_DNS_PUNT_F_OBSERVED (1u << 4)

struct egressd_dns_punt {
	__u64 cookie;
	__u32 scope_id;
	__u32 flags;
	__u8 resolver[16];
	__u16 resolver_port;
	__u16 payload_len; /* bytes valid in payload[] */
	__u32 tcp_seq;     /* sequence number of payload[0] (TCP only) */
	__u32 wire_len;    /* the payload's full length on the wire */
	__u32 status;      /* enum dns_parse_status the kernel got (UDP) */
	__u8 payload[EGRESSD_DNS_PUNT_MAX];
};

/* ---- Observability (docs/OBSERVABILITY.md) ------------------------------
 * Per-flow stats, events for the access log, the TC packet backstop. */
#define EGRESSD_MAX_FLOWS 65536
#define EGRESSD_MAX_TC_IFACES 4096    /* host-side interfaces of workloads */
#define EGRESSD_MAX_TC_INBOUND 65536  /* connections that came into workloads */
#define EGRESSD_EVENTS_RINGBUF_SIZE (1u << 20)
/* A flow emits at most one non-new event per interval (kernel rate limit). */
#define EGRESSD_EVENT_INTERVAL_NS 1000000000ull

/* Map `flows` (LRU hash): (workload, destination, port, protocol) -> stats.
 * Written by the socket hooks (connects) and TC (bytes, packets). */
struct egressd_flow_key {
	__u64 cgroup_id; /* the workload's cgroup (the registered one, not a child) */
	__u8 addr[16];   /* destination, IPv4 v4-mapped */
	__u16 port;      /* destination port, host byte order; 0 for ICMP */
	__u8 protocol;   /* IPPROTO_* as seen on the wire (0: other sockets) */
	__u8 pad[5];
};

struct egressd_flow_value {
	__u64 connects_allowed;
	__u64 connects_denied;
	__u64 connects_redirected;
	__u64 connects_audited;
	__u64 bytes_out;   /* workload -> destination, counted by TC */
	__u64 packets_out;
	__u64 bytes_in;    /* destination -> workload */
	__u64 packets_in;
	__u64 packets_dropped; /* by the TC backstop */
	__u64 closes;          /* sockets of this flow released (TCP/UDP) */
	__u64 last_seen_ns;    /* bpf_ktime_get_ns */
	__u64 last_event_ns;   /* rate limit of events for this flow */
	__u32 scope_id;
	__u32 last_reason;     /* enum egressd_reason of the last decision */
};

/* Map `flow_counters` (per-CPU array): flow and event bookkeeping. */
enum egressd_flow_counter {
	EGRESSD_FLOW_NEW_ENTRIES = 0,     /* flows created (eviction estimate) */
	EGRESSD_FLOW_EVENTS = 1,          /* events submitted */
	EGRESSD_FLOW_EVENTS_DROPPED = 2,  /* ring buffer full */
	EGRESSD_FLOW_EVENTS_LIMITED = 3,  /* suppressed by the per-flow rate limit */
	EGRESSD_FLOW_TC_DROPPED = 4,      /* packets dropped by the TC backstop */
	EGRESSD_FLOW_TC_AUDITED = 5,      /* backstop would have dropped: audit */
	EGRESSD_FLOW_REDIRECT_FALLBACK = 6, /* redirect state kept in the LRU `redirected`:
					     * the socket's slot was another's */
	EGRESSD_FLOW_UDP_PENDING_FALLBACK = 7, /* an allowed UDP connect() recorded at once:
						* its `udp_pending` slot was another's */
	EGRESSD_FLOW_COUNTER_COUNT = 8,
};

/* Ring buffer `flow_events`: new flows, denials, redirects, audits. */
#define EGRESSD_EVENT_F_NEW_FLOW (1u << 0)
#define EGRESSD_EVENT_F_PACKET (1u << 1) /* from the TC backstop, not a socket */

struct egressd_flow_event {
	__u64 time_ns; /* bpf_ktime_get_ns */
	__u64 cgroup_id;
	__u8 addr[16];
	__u16 port;
	__u8 protocol;
	__u8 hook;     /* enum egressd_hook; 0xff for TC */
	__u32 verdict; /* enum egressd_verdict */
	__u32 reason;  /* enum egressd_reason */
	__u32 scope_id;
	__u32 flags;   /* EGRESSD_EVENT_F_* */
	__u32 pad;
};

/* Map `tc_ifaces` (hash): host-side ifindex -> the workload behind it. Its
 * scope and flags are read from `workloads`, so a recompile never leaves a
 * stale copy here. The workload's own addresses are read by the agent from
 * the workload's interface (and again when they change): a packet from the
 * workload with another source is spoofed, one to them is a hairpin. The
 * whole value is replaced in one update, so the kernel never sees half a list. */
#define EGRESSD_TC_IFACE_ADDRS 8

struct egressd_tc_iface_value {
	__u64 cgroup_id;
	__u32 addr_count;     /* valid entries of addrs[] */
	__u32 bridge_ifindex; /* the bridge the interface is a port of; 0: none */
	__u8 addrs[EGRESSD_TC_IFACE_ADDRS][16]; /* IPv4 v4-mapped; link-local included */
};

/* Map `tc_inbound` (LRU hash): connections into a workload, so that its
 * replies pass the backstop. Addresses are the remote peer's. */
struct egressd_tc_inbound_key {
	__u32 ifindex;
	__u8 addr[16];
	__u16 remote_port;
	__u16 local_port;
	__u8 protocol;
	__u8 pad[7];
};

/* Map `inbound_udp` (LRU hash): UDP datagrams that came into a workload's
 * unconnected socket from off the node, so that the socket's answers to
 * that peer pass connect()/sendmsg(), as a stateful firewall lets them.
 * Value: when the last one came (bpf_ktime_get_coarse_ns). */
struct egressd_inbound_udp_key {
	__u64 cgroup_id;   /* the workload (registered cgroup) */
	__u8 addr[16];     /* the peer, v4-mapped for IPv4 */
	__u16 remote_port; /* host byte order */
	__u16 local_port;
	__u8 pad[4];
};

#define EGRESSD_MAX_INBOUND_UDP 16384
/* How long after the peer's last datagram an answer passes (conntrack's UDP
 * stream timeout), and how often an entry is refreshed. */
#define EGRESSD_INBOUND_REPLY_WINDOW_NS (120ull * 1000000000ull)
#define EGRESSD_INBOUND_REFRESH_NS (1000000000ull)

#endif /* EGRESSD_ABI_H */
