#include "bpf/datapath.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
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

std::string pinPath(const std::string& dir, const std::string& map_name) { return dir + "/" + map_name; }

// "cgroup/connect4" -> "connect4", "cgroup_skb/ingress" -> "skb_ingress"
std::string hookOf(const bpf_program* prog) {
  std::string section = bpf_program__section_name(prog);
  const auto slash = section.rfind('/');
  if (slash == std::string::npos) return section;
  const std::string hook = section.substr(slash + 1);
  return section.rfind("cgroup_skb/", 0) == 0 ? "skb_" + hook : hook;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

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

// The cookie of the agent's network namespace (0 if the kernel can't say):
// a workload socket there is host network, with no backstop to wait for.
uint64_t ownNetnsCookie() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (!fd.valid() || ::getsockopt(fd.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) return 0;
  return cookie;
}

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

const btf_type* skipModifiers(const btf* b, uint32_t* id) {
  const btf_type* t = btf__type_by_id(b, *id);
  while (t && (btf_is_typedef(t) || btf_is_mod(t))) {
    *id = t->type;
    t = btf__type_by_id(b, *id);
  }
  return t;
}

// True when two BTF types describe the same bytes: same kind and size and,
// for structs, unions and arrays, the same member names, offsets and types.
bool sameLayout(const btf* a, uint32_t id_a, const btf* b, uint32_t id_b, int depth = 0) {
  const btf_type* ta = skipModifiers(a, &id_a);
  const btf_type* tb = skipModifiers(b, &id_b);
  if (!ta || !tb || depth > 8) return false;
  if (btf_kind(ta) != btf_kind(tb)) return false;
  if (btf_is_array(ta)) {
    return btf_array(ta)->nelems == btf_array(tb)->nelems &&
           sameLayout(a, btf_array(ta)->type, b, btf_array(tb)->type, depth + 1);
  }
  if (btf_is_ptr(ta)) return true;
  if (ta->size != tb->size) return false;
  if (btf_is_int(ta)) return btf_int_encoding(ta) == btf_int_encoding(tb) && btf_int_bits(ta) == btf_int_bits(tb);
  if (!btf_is_composite(ta)) return true;
  if (btf_vlen(ta) != btf_vlen(tb)) return false;
  const btf_member* ma = btf_members(ta);
  const btf_member* mb = btf_members(tb);
  for (int i = 0; i < btf_vlen(ta); ++i) {
    if (ma[i].offset != mb[i].offset) return false;
    if (std::string(btf__name_by_offset(a, ma[i].name_off)) != btf__name_by_offset(b, mb[i].name_off)) return false;
    if (!sameLayout(a, ma[i].type, b, mb[i].type, depth + 1)) return false;
  }
  return true;
}

// The key and value types of a BTF-defined map, read from its definition in
// .maps (libbpf fills bpf_map__btf_*_type_id only at load). 0 when untyped.
std::pair<uint32_t, uint32_t> declaredKeyValue(const btf* b, const char* map_name) {
  const int sec = btf__find_by_name_kind(b, ".maps", BTF_KIND_DATASEC);
  if (sec < 0) return {0, 0};
  const btf_type* datasec = btf__type_by_id(b, sec);
  const btf_var_secinfo* vars = btf_var_secinfos(datasec);
  for (int i = 0; i < btf_vlen(datasec); ++i) {
    const btf_type* var = btf__type_by_id(b, vars[i].type);
    if (std::string(btf__name_by_offset(b, var->name_off)) != map_name) continue;
    uint32_t def_id = var->type;
    const btf_type* def = skipModifiers(b, &def_id);
    if (!def || !btf_is_struct(def)) return {0, 0};
    uint32_t key = 0, value = 0;
    const btf_member* m = btf_members(def);
    for (int j = 0; j < btf_vlen(def); ++j) {
      const std::string name = btf__name_by_offset(b, m[j].name_off);
      const btf_type* ptr = btf__type_by_id(b, m[j].type);
      if (!ptr || !btf_is_ptr(ptr)) continue;
      if (name == "key") key = ptr->type;
      if (name == "value") value = ptr->type;
    }
    return {key, value};
  }
  return {0, 0};
}

// Whether the map pinned at path holds the same bytes as `map` will: the same
// definition and, where both carry BTF, the same key and value layout. Only
// then can an upgrade share it or copy it entry by entry.
bool sameBytes(const std::string& path, const bpf_map* map, const btf* ours) {
  if (!incompatibility(path, map).empty()) return false;
  UniqueFd fd(bpf_obj_get(path.c_str()));
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (!fd.valid() || bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return false;
  const auto [key, value] = declaredKeyValue(ours, bpf_map__name(map));
  if (key == 0 && value == 0) return true;  // untyped (ring buffers): the definition is all there is
  if (info.btf_id == 0) return false;
  std::unique_ptr<btf, decltype(&btf__free)> theirs(btf__load_from_kernel_by_id(info.btf_id), &btf__free);
  if (!theirs) return false;
  return (key == 0 || sameLayout(theirs.get(), info.btf_key_type_id, ours, key)) &&
         (value == 0 || sameLayout(theirs.get(), info.btf_value_type_id, ours, value));
}

// The maps the agent writes (map sync, TC attachments). The old programs
// still read theirs during an upgrade, so the new agent gets its own copy.
// Every other map is written by the kernel as it runs (learned names,
// redirects, flows, counters): sharing it is the only way not to lose writes
// between the first swap and the last.
bool writtenByAgent(const std::string& name) {
  static const std::set<std::string> kNames = {"abi_info",  "workloads",   "scopes",   "dest_prefixes", "dest_ports",
                                               "dns_names", "dns_servers", "gateways", "tc_ifaces",
                                               "pods_parents", "backstops"};
  return kNames.count(name) > 0;
}

enum class PinUse {
  kShare,  // the pin in bpffs_dir: adopted, shared with old programs, or created there
  kFresh,  // created empty in the staging dir
  kCopy,   // created in the staging dir, then filled with the old map's entries
};

struct PinPlan {
  bool adopted = false;  // same ABI: every pinned map reused in place
  bool upgrade = false;  // maps of another ABI (or debris): staged, then swapped
  std::map<std::string, PinUse> use;
};

// Decides, map by map, what the new programs run on. Same ABI and every
// pinned map compatible: adopt them all. Otherwise an upgrade: the agent's
// own maps are new (copied when their layout is unchanged, so scope ids stay
// what learned names are keyed by), the kernel's maps are shared when their
// layout is unchanged, and learned names that cannot follow refuse the upgrade.
Result<PinPlan> planPins(bpf_object* obj, const std::string& dir) {
  const std::string abi_path = pinPath(dir, "abi_info");
  PinPlan plan;
  bpf_map* map = nullptr;
  bool any_pinned = false;
  bpf_object__for_each_map(map, obj) {
    if (bpf_map__is_internal(map)) continue;
    plan.use[bpf_map__name(map)] = PinUse::kShare;
    any_pinned = any_pinned || exists(pinPath(dir, bpf_map__name(map)));
  }
  if (!any_pinned) return plan;

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
  if (reason.empty()) {
    plan.adopted = true;
    return plan;
  }

  plan.upgrade = true;
  const btf* ours = bpf_object__btf(obj);
  std::string shared, copied, fresh;
  auto add = [](std::string& list, const std::string& name) { list += (list.empty() ? "" : " ") + name; };
  bpf_object__for_each_map(map, obj) {
    if (bpf_map__is_internal(map)) continue;
    const std::string name = bpf_map__name(map);
    const std::string path = pinPath(dir, name);
    const bool same = name != "abi_info" && exists(path) && sameBytes(path, map, ours);
    PinUse use = PinUse::kFresh;
    if (same) use = writtenByAgent(name) ? PinUse::kCopy : PinUse::kShare;
    plan.use[name] = use;
    add(use == PinUse::kShare ? shared : use == PinUse::kCopy ? copied : fresh, name);
  }
  // Learned names are keyed by scope id: they follow only with their map and
  // with the scope ids (the copied scopes map keeps every scope's id).
  const std::string learned_path = pinPath(dir, "dns_learned");
  if (exists(learned_path)) {
    UniqueFd fd(bpf_obj_get(learned_path.c_str()));
    bpf_map_info info{};
    __u32 len = sizeof(info);
    const uint32_t learned =
        fd.valid() && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0 ? countKeys(fd.get(), info.key_size) : 0;
    std::string lost;
    if (plan.use["dns_learned"] != PinUse::kShare) {
      lost = "the layout of dns_learned changed";
    } else if (plan.use["scopes"] != PinUse::kCopy) {
      lost = "the layout of scopes changed, so scope ids cannot be kept";
    }
    if (learned > 0 && !lost.empty())
      return fail("upgrade refused: the pinned maps in " + dir + " hold " + std::to_string(learned) +
                  " learned DNS names that this agent cannot carry over (" + lost + ": " + reason +
                  "); the old programs keep enforcing. Upgrade through a version that keeps dns_learned and "
                  "scopes, or remove the pins (egressd --uninstall) to start from scratch");
  }
  spdlog::warn("upgrading the pinned datapath in {}: {}. New programs are staged in {} and go live once their maps "
               "hold the policy; shared: {}; copied: {}; new: {}",
               dir, reason, stagingDir(dir), shared.empty() ? "none" : shared, copied.empty() ? "none" : copied,
               fresh.empty() ? "none" : fresh);
  return plan;
}

Status writeAbiInfo(const bpf_map* map) {
  const uint32_t key = 0;
  const egressd_abi_info info{EGRESSD_ABI_VERSION, 0};
  return mapPut(bpf_map__fd(map), "abi_info", key, info);
}

// sock_release looks in the `redirected` LRU only once a flag in abi_info
// says it may hold entries (abi.h). The map backend sets it before the first
// gateway; an older build set none, so an LRU that already holds entries
// when these programs load sets it here.
Status flagUsedRedirectLru(const bpf_map* redirected, const bpf_map* abi_info) {
  egressd_redirect_key key{};
  if (bpf_map_get_next_key(bpf_map__fd(redirected), nullptr, &key) != 0) return Ok{};  // empty
  return addAbiFlags(bpf_map__fd(abi_info), EGRESSD_ABI_F_REDIRECT_LRU_USED);
}

// An old map's entries into its staged successor (same bytes: sameBytes()).
Status copyEntries(const std::string& from_path, const bpf_map* to) {
  UniqueFd from(bpf_obj_get(from_path.c_str()));
  if (!from.valid()) return fail(errnoMessage("open " + from_path, errno));
  size_t value_size = bpf_map__value_size(to);
  const auto type = bpf_map__type(to);
  if (type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH)
    value_size = ((value_size + 7) / 8 * 8) * static_cast<size_t>(libbpf_num_possible_cpus());
  std::vector<unsigned char> key(bpf_map__key_size(to)), next(key.size()), value(value_size);
  const void* prev = nullptr;
  while (bpf_map_get_next_key(from.get(), prev, next.data()) == 0) {
    key.swap(next);
    prev = key.data();
    if (bpf_map_lookup_elem(from.get(), key.data(), value.data()) != 0) continue;  // deleted meanwhile
    if (bpf_map_update_elem(bpf_map__fd(to), key.data(), value.data(), BPF_ANY) != 0)
      return fail(errnoMessage(std::string("copy into staged map ") + bpf_map__name(to), errno));
  }
  return Ok{};
}

// Moves the staged pins over the old ones (rename replaces a pin in one
// step), abi_info last: while the staging dir exists the upgrade is
// unfinished, and abi_info in bpffs_dir still names the old ABI.
Status publishStaged(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string staging = stagingDir(dir);
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(staging, ec)) names.push_back(entry.path().filename());
  if (ec) return fail("list " + staging + ": " + ec.message());
  std::stable_partition(names.begin(), names.end(), [](const std::string& n) { return n != "abi_info"; });
  for (const auto& name : names) {
    if (::rename(pinPath(staging, name.c_str()).c_str(), pinPath(dir, name.c_str()).c_str()) != 0)
      return fail(errnoMessage("move staged pin " + name + " into " + dir, errno));
  }
  return removePinDir(staging);
}

// The ids of the maps the programs behind the pinned links use.
std::set<uint32_t> mapsOfPinnedLinks(const std::string& dir) {
  namespace fs = std::filesystem;
  std::set<uint32_t> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(linksDir(dir), ec)) {
    UniqueFd link(bpf_obj_get(entry.path().c_str()));
    bpf_link_info link_info{};
    __u32 len = sizeof(link_info);
    if (!link.valid() || bpf_obj_get_info_by_fd(link.get(), &link_info, &len) != 0) continue;
    UniqueFd prog(bpf_prog_get_fd_by_id(link_info.prog_id));
    bpf_prog_info info{};
    len = sizeof(info);
    if (!prog.valid() || bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0) continue;
    std::vector<__u32> map_ids(info.nr_map_ids);
    const __u32 count = info.nr_map_ids;
    info = {};
    info.nr_map_ids = count;
    info.map_ids = reinterpret_cast<__u64>(map_ids.data());
    len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0) continue;
    ids.insert(map_ids.begin(), map_ids.begin() + std::min(count, info.nr_map_ids));
  }
  return ids;
}

// A staging dir left by an agent that died mid-upgrade. If any link already
// runs a program on the staged maps, the swap had begun and the staged maps
// are complete (links move only after they are filled): finish publishing
// them. Otherwise the old programs never stopped: discard the staged maps and
// this start upgrades again from the old ones.
Status recoverInterruptedUpgrade(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string staging = stagingDir(dir);
  if (!exists(staging)) return Ok{};
  std::set<uint32_t> staged;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(staging, ec)) {
    UniqueFd fd(bpf_obj_get(entry.path().c_str()));
    bpf_map_info info{};
    __u32 len = sizeof(info);
    if (fd.valid() && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0) staged.insert(info.id);
  }
  bool swapping = false;
  for (uint32_t id : mapsOfPinnedLinks(dir)) swapping = swapping || staged.count(id) > 0;
  if (swapping) {
    spdlog::warn("an earlier upgrade in {} stopped after its links moved: publishing its staged maps", dir);
    return publishStaged(dir);
  }
  spdlog::warn("an earlier upgrade in {} stopped before its links moved: discarding its staged maps", dir);
  return removePinDir(staging);
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
  uint64_t cgroup_id = 0;
  bool adopted = false;
  bool staged = false;
  std::vector<std::string> map_names;  // this build's pinned maps
};

namespace {

// Every cgroup program of the skeleton on its hook at the cgroup root: the
// pinned link updated in place (one atomic swap), or a new link.
Status attachCgroupLinks(Datapath::State& state) {
  state.links.clear();
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, state.skel->obj) {
    // TC programs go on workload interfaces, one by one (agent/tc_attachments).
    if (bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS) continue;
    const std::string hook = hookOf(prog);
    CgroupLinkRequest request{prog, hook, state.cgroup_root, state.cgroup_id, linksDir(state.bpffs_dir) + "/" + hook};
    auto link = attachOrAdoptCgroupLink(request);
    if (!link) return fail(link.error());
    spdlog::info("cgroup/{} {} at {}", hook, link->adopted ? "updated in place" : "attached", state.cgroup_root);
    state.links.emplace_back(prog, std::move(*link));
  }
  return Ok{};
}

// Every pinned tcx link (the TC backstop on workload interfaces) onto this
// datapath's TC programs. clsact filters have no pin: the agent's TC
// reconcile replaces them in place (BPF_TC_F_REPLACE).
Status swapTcxLinks(const Datapath::State& state) {
  namespace fs = std::filesystem;
  const auto& progs = state.skel->progs;
  std::error_code ec;
  uint32_t swapped = 0;
  for (const auto& entry : fs::directory_iterator(linksDir(state.bpffs_dir), ec)) {
    auto updated = updatePinnedTcxLink(entry.path(), bpf_program__fd(progs.egressd_tc_from_pod),
                                       bpf_program__fd(progs.egressd_tc_to_pod));
    if (!updated) return fail(updated.error());
    swapped += *updated ? 1 : 0;
  }
  if (ec) return fail("list " + linksDir(state.bpffs_dir) + ": " + ec.message());
  if (swapped > 0) spdlog::info("{} TC links moved to the new programs", swapped);
  return Ok{};
}

// Pins in bpffs_dir of maps this build no longer has.
void removeStalePins(const Datapath::State& state) {
  namespace fs = std::filesystem;
  const std::set<std::string> ours(state.map_names.begin(), state.map_names.end());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(state.bpffs_dir, ec)) {
    if (entry.is_directory(ec) || ours.count(entry.path().filename())) continue;
    spdlog::info("removing the pin of map {}, which this agent does not use", entry.path().string());
    ::unlink(entry.path().c_str());
  }
}

}  // namespace

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
  state->skel->rodata->raw_socket_gate = options.raw_socket_gate ? 1 : 0;
  state->skel->rodata->fail_open = options.fail_open ? 1 : 0;
  state->skel->rodata->host_netns_cookie = ownNetnsCookie();

  if (auto st = recoverInterruptedUpgrade(state->bpffs_dir); !st) return fail(st.error());
  auto plan = planPins(obj, state->bpffs_dir);
  if (!plan) return fail(plan.error());
  state->adopted = plan->adopted;
  const std::string staging = stagingDir(state->bpffs_dir);
  if (plan->upgrade) {
    std::error_code ec;
    std::filesystem::create_directories(staging, ec);
    if (ec) return fail("mkdir " + staging + ": " + ec.message());
  }

  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, obj) {
    // .rodata holds this build's load-time knobs: never shared with a pin.
    if (bpf_map__is_internal(map)) continue;
    state->map_names.push_back(bpf_map__name(map));
    const bool staged = plan->use[bpf_map__name(map)] != PinUse::kShare;
    const std::string path = pinPath(staged ? staging : state->bpffs_dir, bpf_map__name(map));
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
  bpf_object__for_each_map(map, obj) {
    if (bpf_map__is_internal(map) || plan->use[bpf_map__name(map)] != PinUse::kCopy) continue;
    if (auto st = copyEntries(pinPath(state->bpffs_dir, bpf_map__name(map)), map); !st) return fail(st.error());
  }
  if (auto st = flagUsedRedirectLru(state->skel->maps.redirected, state->skel->maps.abi_info); !st)
    return fail(st.error());

  state->cgroup_id = *cgroup_id;
  state->staged = plan->upgrade;
  if (!state->staged) {
    if (auto st = attachCgroupLinks(*state); !st) return fail(st.error());
  }

  const auto& maps = state->skel->maps;
  state->backend = std::make_unique<PinnedMapBackend>(PolicyMapFds{
      bpf_map__fd(maps.workloads), bpf_map__fd(maps.scopes), bpf_map__fd(maps.dest_prefixes),
      bpf_map__fd(maps.dest_ports), bpf_map__fd(maps.dns_names), bpf_map__fd(maps.dns_servers),
      bpf_map__fd(maps.gateways), bpf_map__fd(maps.dns_learned), bpf_map__fd(maps.abi_info)});
  auto datapath = std::unique_ptr<Datapath>(new Datapath(std::move(state)));
  if (!options.stage_upgrade) {
    if (auto st = datapath->goLive(); !st) return fail(st.error());
  }
  return datapath;
}

Status Datapath::goLive() {
  State& state = *state_;
  if (!state.staged) return Ok{};
  // New hooks first, then every link moves in one step each: the cgroup
  // hooks, then the TC backstop. Each new program runs on maps that already
  // hold the policy; learned names are in the shared dns_learned whichever
  // program learned them.
  if (auto st = attachCgroupLinks(state); !st) return st;
  if (auto st = swapTcxLinks(state); !st) return st;
  // Only now do the old maps lose their pins (the old programs are gone).
  if (auto st = publishStaged(state.bpffs_dir); !st) return st;
  removeStalePins(state);
  state.staged = false;
  spdlog::info("upgrade done: the links run the new programs; the maps are pinned in {}", state.bpffs_dir);
  return Ok{};
}

bool Datapath::staged() const { return state_->staged; }

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

Status Datapath::putTcIface(uint32_t ifindex, const TcIface& iface) {
  if (iface.addresses.size() > EGRESSD_TC_IFACE_ADDRS)
    return fail("interface " + std::to_string(ifindex) + ": " + std::to_string(iface.addresses.size()) +
                " addresses, the backstop holds " + std::to_string(EGRESSD_TC_IFACE_ADDRS));
  egressd_tc_iface_value value{};
  value.cgroup_id = iface.cgroup_id;
  value.addr_count = static_cast<uint32_t>(iface.addresses.size());
  value.bridge_ifindex = iface.bridge_ifindex;
  for (size_t i = 0; i < iface.addresses.size(); ++i)
    std::memcpy(value.addrs[i], iface.addresses[i].data(), sizeof(value.addrs[i]));
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

namespace {
int cgroupMapFd(const egress_sock& skel, Datapath::CgroupMap map) {
  return bpf_map__fd(map == Datapath::CgroupMap::kPodsParents ? skel.maps.pods_parents : skel.maps.backstops);
}
const char* cgroupMapName(Datapath::CgroupMap map) {
  return map == Datapath::CgroupMap::kPodsParents ? "pods_parents" : "backstops";
}
}  // namespace

Result<std::map<uint64_t, uint32_t>> Datapath::readCgroupMap(CgroupMap map) {
  const int fd = cgroupMapFd(*state_->skel, map);
  std::map<uint64_t, uint32_t> out;
  // Both values are {__u32, __u32 pad}: the first word is what counts.
  auto st = mapForEachKey<egressd_workload_key>(fd, cgroupMapName(map), [&](const egressd_workload_key& key) -> Status {
    egressd_backstop_value value{};
    if (bpf_map_lookup_elem(fd, &key, &value) == 0) out[key.cgroup_id] = value.state;
    return Ok{};
  });
  if (!st) return fail(st.error());
  return out;
}

Status Datapath::putCgroupMap(CgroupMap map, uint64_t cgroup_id, uint32_t value) {
  static_assert(sizeof(egressd_backstop_value) == sizeof(egressd_pods_parent_value));
  const egressd_workload_key key{cgroup_id};
  const egressd_backstop_value entry{value, 0};
  return mapPut(cgroupMapFd(*state_->skel, map), cgroupMapName(map), key, entry);
}

Status Datapath::deleteCgroupMap(CgroupMap map, uint64_t cgroup_id) {
  const egressd_workload_key key{cgroup_id};
  if (bpf_map_delete_elem(cgroupMapFd(*state_->skel, map), &key) != 0 && errno != ENOENT)
    return fail(errnoMessage(std::string("delete from map ") + cgroupMapName(map), errno));
  return Ok{};
}

int Datapath::flowEventsFd() const { return bpf_map__fd(state_->skel->maps.flow_events); }

int Datapath::dnsPuntFd() const { return bpf_map__fd(state_->skel->maps.dns_punt); }

}  // namespace egressd::bpf
