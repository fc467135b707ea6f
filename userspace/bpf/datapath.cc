#include "bpf/datapath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "bpf/cgroup_link.h"
#include "bpf/errno_text.h"
#include "bpf/libbpf_log.h"
#include "bpf/map_io.h"
#include "bpf/pinned_map_backend.h"
#include "bpf/tc_link.h"
#include "bpf/unique_fd.h"
#include "egress_sock.skel.h"

namespace egressd::bpf {
namespace {

struct SkeletonDeleter {
  void operator()(egress_sock* skel) const { egress_sock::destroy(skel); }
};
using SkeletonPtr = std::unique_ptr<egress_sock, SkeletonDeleter>;

std::string pinPath(const std::string& dir, const char* map_name) { return dir + "/" + map_name; }

// "cgroup/connect4" -> "connect4", "cgroup_skb/ingress" -> "skb_ingress"
std::string hookOf(const bpf_program* prog) {
  std::string section = bpf_program__section_name(prog);
  const auto slash = section.rfind('/');
  if (slash == std::string::npos) return section;
  const std::string hook = section.substr(slash + 1);
  return section.rfind("cgroup_skb/", 0) == 0 ? "skb_" + hook : hook;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Why a pinned map cannot serve as `map` (libbpf would refuse to reuse it);
// empty when it can.
std::string incompatibility(const std::string& path, const bpf_map* map) {
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid()) return errnoMessage("open", errno);
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return "not a map";
  auto differs = [](const char* what, uint32_t pinned, uint32_t wanted) {
    return std::string(what) + " " + std::to_string(pinned) + " != " + std::to_string(wanted);
  };
  if (info.type != static_cast<__u32>(bpf_map__type(map))) return differs("type", info.type, bpf_map__type(map));
  if (info.key_size != bpf_map__key_size(map)) return differs("key size", info.key_size, bpf_map__key_size(map));
  if (info.value_size != bpf_map__value_size(map))
    return differs("value size", info.value_size, bpf_map__value_size(map));
  if (info.max_entries != bpf_map__max_entries(map))
    return differs("max entries", info.max_entries, bpf_map__max_entries(map));
  if (info.map_flags != bpf_map__map_flags(map)) return differs("flags", info.map_flags, bpf_map__map_flags(map));
  return {};
}

Result<uint32_t> pinnedAbiVersion(const std::string& path) {
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid()) return fail(errnoMessage("open " + path, errno));
  const uint32_t key = 0;
  egressd_abi_info info{};
  if (bpf_map_lookup_elem(fd.get(), &key, &info) != 0) return fail(errnoMessage("read " + path, errno));
  return info.version;
}

// Decides whether the maps pinned in dir can be adopted. If they can't (other
// ABI version, a definition that changed, or debris), they are removed: the
// programs then start on fresh, empty maps and the agent refills them.
Result<bool> reconcilePinnedMaps(bpf_object* obj, const std::string& dir) {
  const std::string abi_path = pinPath(dir, "abi_info");
  bool any_pinned = false;
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, obj) {
    if (!bpf_map__is_internal(map)) any_pinned = any_pinned || exists(pinPath(dir, bpf_map__name(map)));
  }
  if (!any_pinned) return false;

  std::string reason;
  if (!exists(abi_path)) {
    reason = "abi_info is missing";
  } else if (auto version = pinnedAbiVersion(abi_path); !version) {
    reason = version.error();
  } else if (*version != EGRESSD_ABI_VERSION) {
    reason = "they have ABI version " + std::to_string(*version) + ", this agent uses " +
             std::to_string(EGRESSD_ABI_VERSION);
  } else {
    bpf_object__for_each_map(map, obj) {
      const std::string path = pinPath(dir, bpf_map__name(map));
      if (bpf_map__is_internal(map) || !exists(path)) continue;  // a map new in this build: created fresh
      if (auto why = incompatibility(path, map); !why.empty()) {
        reason = "map " + path + " is incompatible (" + why + ")";
        break;
      }
    }
  }
  if (reason.empty()) return true;
  spdlog::warn("not adopting the pinned maps in {}: {}; removing them and starting with empty maps", dir, reason);
  if (auto st = removeMapPins(dir); !st) return fail(st.error());
  return false;
}

Status writeAbiInfo(const bpf_map* map) {
  const uint32_t key = 0;
  const egressd_abi_info info{EGRESSD_ABI_VERSION, 0};
  return mapPut(bpf_map__fd(map), "abi_info", key, info);
}

uint32_t countKeys(int fd, uint32_t key_size) {
  std::vector<unsigned char> key(key_size), next(key_size);
  uint32_t count = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    key.swap(next);
    prev = key.data();
    ++count;
  }
  return count;
}

// Slots of a cookie-indexed array (`redirected_slots`, `udp_pending`) a
// socket holds (cookie != 0), read in batches (16 syscalls for 64K slots,
// not one per slot).
template <typename Slot>
uint32_t countHeldSlots(int fd, uint32_t capacity, const char* name) {
  constexpr uint32_t kChunk = 4096;
  std::vector<uint32_t> keys(kChunk);
  std::vector<Slot> values(kChunk);
  uint32_t held = 0;
  uint32_t in = 0;
  uint32_t out = 0;
  for (uint32_t read = 0; read < capacity;) {
    uint32_t count = kChunk;
    const int err =
        bpf_map_lookup_batch(fd, read == 0 ? nullptr : &in, &out, keys.data(), values.data(), &count, nullptr);
    for (uint32_t i = 0; i < count && i < kChunk; ++i) held += values[i].cookie != 0 ? 1 : 0;
    if (err != 0) {  // ENOENT: the last batch
      if (errno != ENOENT) spdlog::warn("{}", errnoMessage(std::string("read map ") + name, errno));
      break;
    }
    if (count == 0) break;  // never expected; no endless loop if it happens
    read += count;
    in = out;
  }
  return held;
}

}  // namespace

struct Datapath::State {
  std::string bpffs_dir;
  std::string cgroup_root;
  SkeletonPtr skel;
  std::vector<std::pair<bpf_program*, CgroupLink>> links;
  std::unique_ptr<PinnedMapBackend> backend;
  bool adopted = false;
};

Datapath::Datapath(std::unique_ptr<State> state) : state_(std::move(state)) {}
Datapath::~Datapath() = default;
Datapath::Datapath(Datapath&&) noexcept = default;
Datapath& Datapath::operator=(Datapath&&) noexcept = default;

Result<std::unique_ptr<Datapath>> Datapath::open(const DatapathOptions& options) {
  routeLibbpfLogToSpdlog();
  auto state = std::make_unique<State>();
  state->bpffs_dir = options.bpffs_dir;
  state->cgroup_root = options.cgroup_root.empty() ? cgroup2MountRoot() : options.cgroup_root;
  if (state->cgroup_root.empty()) return fail("no cgroup2 filesystem in /proc/self/mountinfo: pass --cgroup-root");
  auto cgroup_id = cgroupIdOf(state->cgroup_root);
  if (!cgroup_id) return fail(cgroup_id.error());
  if (auto st = ensureBpffs(state->bpffs_dir); !st) return fail(st.error());

  state->skel.reset(egress_sock::open());
  if (!state->skel) return fail(errnoMessage("open BPF object egress_sock", errno));
  bpf_object* obj = state->skel->obj;

  if (options.dns_min_ttl_s > options.dns_max_ttl_s)
    return fail("--dns-min-ttl " + std::to_string(options.dns_min_ttl_s) + " is above --dns-max-ttl " +
                std::to_string(options.dns_max_ttl_s));
  state->skel->rodata->dns_min_ttl_s = options.dns_min_ttl_s;
  state->skel->rodata->dns_max_ttl_s = options.dns_max_ttl_s;
  state->skel->rodata->flow_stats_enabled = options.flow_stats ? 1 : 0;

  auto adopted = reconcilePinnedMaps(obj, state->bpffs_dir);
  if (!adopted) return fail(adopted.error());
  state->adopted = *adopted;

  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, obj) {
    // .rodata holds this build's load-time knobs: never shared with a pin.
    if (bpf_map__is_internal(map)) continue;
    const std::string path = pinPath(state->bpffs_dir, bpf_map__name(map));
    if (int err = bpf_map__set_pin_path(map, path.c_str()); err != 0)
      return fail(errnoMessage("set pin path " + path, err));
  }
  // Reuses the pinned maps, creates and pins missing ones; the verifier's
  // complaints reach the log through libbpf's print callback.
  if (int err = egress_sock::load(state->skel.get()); err != 0)
    return fail(errnoMessage("load BPF programs (pins in " + state->bpffs_dir + ")", err));
  if (!state->adopted) {
    if (auto st = writeAbiInfo(state->skel->maps.abi_info); !st) return fail(st.error());
  }

  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, obj) {
    // TC programs go on workload interfaces, one by one (agent/tc_attachments).
    if (bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS) continue;
    const std::string hook = hookOf(prog);
    CgroupLinkRequest request{prog, hook, state->cgroup_root, *cgroup_id, linksDir(state->bpffs_dir) + "/" + hook};
    auto link = attachOrAdoptCgroupLink(request);
    if (!link) return fail(link.error());
    spdlog::info("cgroup/{} {} at {}", hook, link->adopted ? "updated in place" : "attached", state->cgroup_root);
    state->links.emplace_back(prog, std::move(*link));
  }

  const auto& maps = state->skel->maps;
  state->backend = std::make_unique<PinnedMapBackend>(PolicyMapFds{
      bpf_map__fd(maps.workloads), bpf_map__fd(maps.scopes), bpf_map__fd(maps.dest_prefixes),
      bpf_map__fd(maps.dest_ports), bpf_map__fd(maps.dns_names), bpf_map__fd(maps.dns_servers),
      bpf_map__fd(maps.gateways)});
  return std::unique_ptr<Datapath>(new Datapath(std::move(state)));
}

MapBackend& Datapath::maps() { return *state_->backend; }

bool Datapath::adopted() const { return state_->adopted; }

const std::string& Datapath::cgroupRoot() const { return state_->cgroup_root; }

Result<std::vector<HookReasonCount>> Datapath::readCounters() {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return fail(errnoMessage("count possible CPUs", cpus));
  const int fd = bpf_map__fd(state_->skel->maps.verdict_counters);
  std::vector<egressd_counter> per_cpu(static_cast<size_t>(cpus));
  std::vector<HookReasonCount> out;
  for (uint32_t hook = 0; hook < EGRESSD_HOOK_COUNT; ++hook) {
    for (uint32_t reason = 0; reason < EGRESSD_REASON_COUNT; ++reason) {
      const uint32_t index = hook * EGRESSD_REASON_COUNT + reason;
      if (bpf_map_lookup_elem(fd, &index, per_cpu.data()) != 0)
        return fail(errnoMessage("read map verdict_counters", errno));
      HookReasonCount count{static_cast<egressd_hook>(hook), static_cast<egressd_reason>(reason), 0, 0};
      for (const auto& c : per_cpu) {
        count.allowed += c.allowed;
        count.denied += c.denied;
      }
      out.push_back(count);
    }
  }
  return out;
}

std::vector<MapFill> Datapath::mapFill() {
  std::vector<MapFill> out;
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, state_->skel->obj) {
    // Internal: the ring buffer's size is bytes, the scratch is per-CPU memory,
    // socket storage has no capacity (it lives and dies with its sockets).
    if (bpf_map__is_internal(map) || bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF ||
        bpf_map__type(map) == BPF_MAP_TYPE_SK_STORAGE || map == state_->skel->maps.dns_scratch)
      continue;
    const uint32_t capacity = bpf_map__max_entries(map);
    uint32_t entries = capacity;  // arrays are always full
    if (map == state_->skel->maps.scopes) {
      entries = 0;
      for (uint32_t id = 0; id < capacity; ++id) {
        egressd_scope_value value{};
        if (bpf_map_lookup_elem(bpf_map__fd(map), &id, &value) == 0 && (value.flags & EGRESSD_SCOPE_F_ACTIVE))
          ++entries;
      }
    } else if (map == state_->skel->maps.gateways) {
      entries = 0;
      for (uint32_t id = 0; id < capacity; ++id) {
        egressd_gateway_value value{};
        if (bpf_map_lookup_elem(bpf_map__fd(map), &id, &value) == 0 && (value.flags & EGRESSD_GATEWAY_F_ACTIVE))
          ++entries;
      }
    } else if (map == state_->skel->maps.redirected_slots) {
      entries = countHeldSlots<egressd_redirect_slot>(bpf_map__fd(map), capacity, "redirected_slots");
    } else if (map == state_->skel->maps.udp_pending) {
      entries = countHeldSlots<egressd_udp_pending_slot>(bpf_map__fd(map), capacity, "udp_pending");
    } else if (bpf_map__type(map) == BPF_MAP_TYPE_HASH || bpf_map__type(map) == BPF_MAP_TYPE_LPM_TRIE ||
               bpf_map__type(map) == BPF_MAP_TYPE_LRU_HASH) {
      entries = countKeys(bpf_map__fd(map), bpf_map__key_size(map));
    }
    out.push_back({bpf_map__name(map), entries, capacity});
  }
  return out;
}

std::vector<ProgramInfo> Datapath::programs() const {
  std::vector<ProgramInfo> out;
  for (const auto& [prog, link] : state_->links) {
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) != 0) {
      spdlog::warn("{}", errnoMessage(std::string("inspect program ") + bpf_program__name(prog), errno));
    }
    out.push_back({bpf_program__name(prog), info.id, "cgroup/" + hookOf(prog) + ":" + state_->cgroup_root,
                   info.verified_insns, info.run_cnt, info.run_time_ns});
  }
  const auto& progs = state_->skel->progs;
  for (TcHook hook : {TcHook::kIngress, TcHook::kEgress}) {
    bpf_program* prog = hook == TcHook::kIngress ? progs.egressd_tc_from_pod : progs.egressd_tc_to_pod;
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) != 0)
      spdlog::warn("{}", errnoMessage("inspect TC program", errno));
    out.push_back({bpf_program__name(prog), info.id, std::string("tc/") + tcHookName(hook) + ":workload interfaces",
                   info.verified_insns, info.run_cnt, info.run_time_ns});
  }
  return out;
}

Result<std::vector<DnsLearnedEntry>> Datapath::readDnsLearned() {
  const int fd = bpf_map__fd(state_->skel->maps.dns_learned);
  std::vector<DnsLearnedEntry> out;
  auto st = mapForEachKey<egressd_dns_learned_key>(fd, "dns_learned", [&](const egressd_dns_learned_key& key) -> Status {
    DnsLearnedEntry entry{key, {}};
    if (bpf_map_lookup_elem(fd, &key, &entry.value) == 0) out.push_back(entry);
    return Ok{};
  });
  if (!st) return fail(st.error());
  return out;
}

Status Datapath::putDnsLearned(const egressd_dns_learned_key& key, const egressd_dns_learned_value& value) {
  return mapPut(bpf_map__fd(state_->skel->maps.dns_learned), "dns_learned", key, value);
}

Result<std::optional<egressd_dns_learned_value>> Datapath::lookupDnsLearned(const egressd_dns_learned_key& key) {
  egressd_dns_learned_value value{};
  if (bpf_map_lookup_elem(bpf_map__fd(state_->skel->maps.dns_learned), &key, &value) == 0) return {value};
  if (errno == ENOENT) return std::optional<egressd_dns_learned_value>{};
  return fail(errnoMessage("lookup in map dns_learned", errno));
}

Result<std::vector<uint64_t>> Datapath::readDnsCounters() {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return fail(errnoMessage("count possible CPUs", cpus));
  const int fd = bpf_map__fd(state_->skel->maps.dns_counters);
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  std::vector<uint64_t> out(EGRESSD_DNS_COUNTER_COUNT, 0);
  for (uint32_t i = 0; i < EGRESSD_DNS_COUNTER_COUNT; ++i) {
    if (bpf_map_lookup_elem(fd, &i, per_cpu.data()) != 0) return fail(errnoMessage("read map dns_counters", errno));
    for (uint64_t v : per_cpu) out[i] += v;
  }
  return out;
}

Result<std::vector<FlowEntry>> Datapath::readFlows() {
  const int fd = bpf_map__fd(state_->skel->maps.flows);
  std::vector<FlowEntry> out;
  auto st = mapForEachKey<egressd_flow_key>(fd, "flows", [&](const egressd_flow_key& key) -> Status {
    FlowEntry entry{key, {}};
    if (bpf_map_lookup_elem(fd, &key, &entry.value) == 0) out.push_back(entry);
    return Ok{};
  });
  if (!st) return fail(st.error());
  return out;
}

Result<std::vector<uint64_t>> Datapath::readFlowCounters() {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return fail(errnoMessage("count possible CPUs", cpus));
  const int fd = bpf_map__fd(state_->skel->maps.flow_counters);
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  std::vector<uint64_t> out(EGRESSD_FLOW_COUNTER_COUNT, 0);
  for (uint32_t i = 0; i < EGRESSD_FLOW_COUNTER_COUNT; ++i) {
    if (bpf_map_lookup_elem(fd, &i, per_cpu.data()) != 0) return fail(errnoMessage("read map flow_counters", errno));
    for (uint64_t v : per_cpu) out[i] += v;
  }
  return out;
}

int Datapath::tcProgramFd(TcHook hook) const {
  const auto& progs = state_->skel->progs;
  return bpf_program__fd(hook == TcHook::kIngress ? progs.egressd_tc_from_pod : progs.egressd_tc_to_pod);
}

Status Datapath::putTcIface(uint32_t ifindex, uint64_t cgroup_id) {
  const egressd_tc_iface_value value{cgroup_id};
  return mapPut(bpf_map__fd(state_->skel->maps.tc_ifaces), "tc_ifaces", ifindex, value);
}

Status Datapath::deleteTcIface(uint32_t ifindex, uint64_t cgroup_id) {
  const int fd = bpf_map__fd(state_->skel->maps.tc_ifaces);
  egressd_tc_iface_value value{};
  if (bpf_map_lookup_elem(fd, &ifindex, &value) != 0) {
    if (errno == ENOENT) return Ok{};
    return fail(errnoMessage("lookup in map tc_ifaces", errno));
  }
  if (value.cgroup_id != cgroup_id) return Ok{};
  if (bpf_map_delete_elem(fd, &ifindex) != 0 && errno != ENOENT)
    return fail(errnoMessage("delete from map tc_ifaces", errno));
  return Ok{};
}

Result<std::map<uint32_t, uint64_t>> Datapath::readTcIfaces() {
  const int fd = bpf_map__fd(state_->skel->maps.tc_ifaces);
  std::map<uint32_t, uint64_t> out;
  auto st = mapForEachKey<uint32_t>(fd, "tc_ifaces", [&](const uint32_t& ifindex) -> Status {
    egressd_tc_iface_value value{};
    if (bpf_map_lookup_elem(fd, &ifindex, &value) == 0) out[ifindex] = value.cgroup_id;
    return Ok{};
  });
  if (!st) return fail(st.error());
  return out;
}

int Datapath::flowEventsFd() const { return bpf_map__fd(state_->skel->maps.flow_events); }

int Datapath::dnsPuntFd() const { return bpf_map__fd(state_->skel->maps.dns_punt); }

}  // namespace egressd::bpf
