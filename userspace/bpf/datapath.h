#pragma once
// The loaded egress datapath: BPF programs attached at a cgroup root, their
// links and maps pinned under bpffs so enforcement outlives the agent, and a
// restarted agent adopts (never flushes) what it finds.
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpf/bpffs.h"
#include "bpf/cgroup.h"
#include "bpf/tc_link.h"
#include "common/result.h"
#include "egressd/abi.h"
#include "sync/map_backend.h"

struct egress_sock;  // the generated skeleton

namespace egressd::bpf {

struct DatapathOptions {
  std::string bpffs_dir = "/sys/fs/bpf/egressd";
  std::string cgroup_root;  // empty = cgroup2 mount root
  // Bounds on how long a learned IP stays allowed (docs/DNS_LEARNING.md).
  uint32_t dns_min_ttl_s = 5;
  uint32_t dns_max_ttl_s = 3600;
  // Per-flow stats and events (the `flows` map, the access log). Off only
  // for the benchmark's baseline.
  bool flow_stats = true;
  // An upgrade (pinned maps of another ABI) loads the new programs on staged
  // maps and leaves the old programs in the links. true: goLive() moves the
  // links once the caller has filled the maps (the agent: after its first
  // sync). false: open() moves them at once (tests, benchmarks).
  bool stage_upgrade = false;
  // The agent attaches TC backstops: refuse a workload's raw and packet
  // sockets until its backstop is there (bpf/lib/sock_create.h).
  bool raw_socket_gate = false;
  // --fail-mode open: a workload whose state is missing (its scope not
  // active, its `workloads` entry not written) is audited, not denied
  // (bpf/lib/policy.h).
  bool fail_open = false;
};

struct FlowEntry {
  egressd_flow_key key;
  egressd_flow_value value;
};

struct DnsLearnedEntry {
  egressd_dns_learned_key key;
  egressd_dns_learned_value value;
};

struct MapFill {
  std::string name;
  uint32_t entries;
  uint32_t capacity;
};

struct ProgramInfo {
  std::string name;
  uint32_t id;
  std::string attach_point;  // "cgroup/connect4:/sys/fs/cgroup"
  uint32_t verified_insns;
  uint64_t run_cnt = 0;      // with kernel BPF stats enabled (BPF_STATS_RUN_TIME)
  uint64_t run_time_ns = 0;
};

struct HookReasonCount {
  egressd_hook hook;
  egressd_reason reason;
  uint64_t allowed;
  uint64_t denied;
};

class Datapath {
 public:
  static Result<std::unique_ptr<Datapath>> open(const DatapathOptions& options);

  ~Datapath();
  Datapath(Datapath&&) noexcept;
  Datapath& operator=(Datapath&&) noexcept;
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  // The pinned policy maps as map sync sees them.
  MapBackend& maps();
  // Summed over CPUs; every (hook, reason) pair, zeros included.
  Result<std::vector<HookReasonCount>> readCounters();
  // Entries (counted by iterating; scopes: active slots) and capacity per map.
  std::vector<MapFill> mapFill();
  std::vector<ProgramInfo> programs() const;  // cgroup hooks, then the TC pair

  // DNS learning. dns_learned belongs to the kernel; the agent only adds
  // what it learned from punted answers and reads it for `egressctl dns`.
  Result<std::vector<DnsLearnedEntry>> readDnsLearned();
  Status putDnsLearned(const egressd_dns_learned_key& key, const egressd_dns_learned_value& value);
  Result<std::optional<egressd_dns_learned_value>> lookupDnsLearned(const egressd_dns_learned_key& key);
  // Summed over CPUs, indexed by enum egressd_dns_counter.
  Result<std::vector<uint64_t>> readDnsCounters();
  // The dns_punt ring buffer, for the agent's consumer.
  int dnsPuntFd() const;
  // Observability: per-flow stats, their bookkeeping counters (indexed by
  // enum egressd_flow_counter, summed over CPUs), the events ring buffer.
  Result<std::vector<FlowEntry>> readFlows();
  Result<std::vector<uint64_t>> readFlowCounters();
  int flowEventsFd() const;
  // The TC backstop (lib/tc_backstop.h): its programs, for the agent to
  // attach to workload interfaces, and which interface is which workload's.
  int tcProgramFd(TcHook hook) const;
  // The workload behind a host-side interface, with its own addresses (any
  // other source from it is spoofed): written whole, in one update.
  struct TcIface {
    uint64_t cgroup_id = 0;
    std::vector<std::array<uint8_t, 16>> addresses;  // IPv4 v4-mapped; at most EGRESSD_TC_IFACE_ADDRS
    uint32_t bridge_ifindex = 0;                     // the bridge the interface is a port of; 0: none
  };
  Status putTcIface(uint32_t ifindex, const TcIface& iface);
  // Only while it still names cgroup_id: a reused index may be another's.
  Status deleteTcIface(uint32_t ifindex, uint64_t cgroup_id);
  Result<std::map<uint32_t, uint64_t>> readTcIfaces();  // ifindex -> cgroup id
  // Cgroups the agent describes to the kernel beside the policy maps:
  // `pods_parents` (EGRESSD_PODS_*, excluded pods keyed
  // EGRESSD_PODS_EXCLUDED_KEY) and `backstops` (EGRESSD_BACKSTOP_*).
  enum class CgroupMap { kPodsParents, kBackstops };
  Result<std::map<uint64_t, uint32_t>> readCgroupMap(CgroupMap map);
  Status putCgroupMap(CgroupMap map, uint64_t cgroup_id, uint32_t value);
  Status deleteCgroupMap(CgroupMap map, uint64_t cgroup_id);
  // True if the maps of a previous agent (same ABI) were reused.
  bool adopted() const;
  // An upgrade is loaded and filled through maps() but not live yet: the
  // links still run the old programs on the old maps.
  bool staged() const;
  // Moves every link (cgroup hooks, pinned tcx links) to this datapath's
  // programs, one atomic bpf_link_update each, then puts the staged map pins
  // in place of the old ones. A no-op unless staged().
  Status goLive();
  const std::string& cgroupRoot() const;

  struct State;  // defined in datapath.cc

 private:
  explicit Datapath(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// unpinAll(), cgroup2MountRoot() and cgroupIdOf() come with bpffs.h and cgroup.h.

}  // namespace egressd::bpf
