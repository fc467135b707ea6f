// Map sync, make before break. Each kernel lookup reads one map entry at a
// time, and a change rewrites many entries one by one, so every state in
// between must give each (workload, destination) whose verdict is the same
// before and after the change that same verdict.
//
// The intermediate state M: every prefix of the old and the new policy at
// once. An address whose longest match in M is prefix P has, as its old
// verdict, the old class of the longest old prefix covering P, and as its
// new one the new class of the longest new prefix covering P (any longer
// prefix covering the address would be in M and longer than P). So each
// class of M is written as a blend of those two classes, scope by scope:
//  - most scopes get old | new bits: any verdict both grant stays granted,
//    a destination neither grants is not opened (the compiler folds covering
//    prefixes into longer ones, so new | old never exceeds what either gives);
//  - a scope some workloads leave (a "source") keeps exactly its old bits
//    until they have left: they must not see its new bits, which are not
//    theirs;
//  - a scope workloads join (a "target") holds exactly its new bits before
//    they arrive (its own workloads are fine: each entry goes from
//    old | new to new, never outside the two);
//  - a scope that is both and changes gets its joiners parked in a free
//    temporary slot holding its new bits, until its leavers are gone.
// Order (each step only once the one before is complete):
//  0. gateways (a redirect never points at an empty slot);
//  1. every class of M, new scope slots, dns_names (old | new), servers;
//  2. new prefixes (their classes are complete), then scope settings of
//     scopes whose bits are now old | new (a mode change then changes only
//     what neither bit decides);
//  3. targets get exactly their new bits;
//  4. learned DNS entries copied to the scope a workload moves to (the names
//     that scope may learn), workloads switched (one atomic write each),
//     copied again (answers that arrived meanwhile);
//  5. stale workloads removed;
//  6. sources get old | new; their settings;
//  7. targets that were sources get exactly their new bits; their parked
//     workloads move in (learned entries carried as in 4);
//  8. every class exactly as desired;
//  9. removals: scope slots (and their learned entries), names, servers,
//     prefixes (addresses fall to the covering prefix, which is already
//     new), ports no class uses, gateways.
#include "sync/map_sync.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "compiler/address.h"
#include "egressd/scope_bits.h"
#include "sync/changed_subset.h"

namespace egressd {
namespace {

using PortMap = AbiMap<egressd_port_key, egressd_port_value>;
using PrefixMap = AbiMap<egressd_prefix_key, egressd_prefix_value>;
using ScopeMask = std::array<__u64, EGRESSD_SCOPE_WORDS>;
using PortSlot = std::pair<uint16_t, uint8_t>;  // (port, protocol)

bool hasScope(const ScopeMask& mask, uint32_t id) {
  return id < EGRESSD_MAX_SCOPES && egressd_scope_bit_test(mask.data(), id);
}
void addScope(ScopeMask& mask, uint32_t id) {
  if (id < EGRESSD_MAX_SCOPES) egressd_scope_bit_set(mask.data(), id, 1);
}
bool bitOf(const __u64* bitmap, uint32_t id) { return egressd_scope_bit_test(bitmap, id); }
void setBit(__u64* bitmap, uint32_t id, bool on) { egressd_scope_bit_set(bitmap, id, on); }

std::string describe(const egressd_workload_key& k) { return "workload cgroup " + std::to_string(k.cgroup_id); }
std::string describe(const egressd_prefix_key& k) { return "prefix " + compiler::formatPrefix(k); }
std::string describe(const egressd_port_key& k) {
  return "port class " + std::to_string(k.class_id) + " " + std::to_string(k.port) + "/" +
         std::to_string(k.protocol);
}
std::string describe(const egressd_dns_name_key& k) { return "dns name hash " + std::to_string(k.hash); }
std::string describe(const egressd_dns_server_key& k) {
  egressd_prefix_key p{};
  p.prefixlen = 128;
  std::memcpy(p.addr, k.addr, sizeof(p.addr));
  return "dns server " + compiler::formatPrefix(p) + " port " + std::to_string(k.port);
}
std::string describe(const egressd_dns_learned_key& k) {
  egressd_prefix_key p{};
  p.prefixlen = 128;
  std::memcpy(p.addr, k.addr, sizeof(p.addr));
  return "learned " + compiler::formatPrefix(p) + " of scope " + std::to_string(k.scope_id);
}
std::string describe(uint32_t id) { return "scope/gateway slot " + std::to_string(id); }

uint64_t bootNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// The entry the kernel uses for (class, port, protocol): exact, else port 0.
const egressd_port_value* lookupPort(const PortMap& ports, std::optional<uint32_t> class_id, PortSlot slot) {
  if (!class_id) return nullptr;
  egressd_port_key key{};
  key.class_id = *class_id;
  key.port = slot.first;
  key.protocol = slot.second;
  if (auto it = ports.find(key); it != ports.end()) return &it->second;
  key.port = 0;
  auto it = ports.find(key);
  return it == ports.end() ? nullptr : &it->second;
}

// Appends a class's (port, protocol) slots: ports are ordered by key bytes,
// class id first, so one class's entries are contiguous.
void appendSlots(const PortMap& ports, uint32_t class_id, std::vector<PortSlot>& out) {
  egressd_port_key first{};
  first.class_id = class_id;
  for (auto it = ports.lower_bound(first); it != ports.end() && it->first.class_id == class_id; ++it)
    out.emplace_back(it->first.port, it->first.protocol);
}

// Longest-prefix match of a prefix among a map's prefixes (itself included).
class PrefixIndex {
 public:
  explicit PrefixIndex(const PrefixMap& prefixes) : prefixes_(prefixes) {
    for (const auto& [key, value] : prefixes) lengths_.insert(key.prefixlen);
  }
  std::optional<uint32_t> classCovering(const egressd_prefix_key& prefix) const {
    for (uint32_t len : lengths_) {
      if (len > prefix.prefixlen) continue;
      if (auto it = prefixes_.find(compiler::maskPrefix(prefix, len)); it != prefixes_.end())
        return it->second.class_id;
    }
    return std::nullopt;
  }

 private:
  const PrefixMap& prefixes_;
  std::set<uint32_t, std::greater<>> lengths_;
};

// Which classes the addresses of an intermediate class get their old and
// their new verdict from.
struct ClassPlan {
  std::optional<uint32_t> old_class;
  std::optional<uint32_t> new_class;
};

// How each scope's bits are blended in a step.
struct Blend {
  ScopeMask old_only{};  // exactly the old bits
  ScopeMask new_only{};  // exactly the new bits
  std::map<uint32_t, uint32_t> temp_for;  // temporary slot -> the scope whose new bits it holds
};

// A new value with the temporary slots' bits copied from their scopes.
egressd_port_value withTemps(egressd_port_value v, const Blend& blend) {
  for (const auto& [temp, scope] : blend.temp_for) {
    setBit(v.allow_scopes, temp, bitOf(v.allow_scopes, scope));
    setBit(v.redirect_scopes, temp, bitOf(v.redirect_scopes, scope));
  }
  return v;
}

std::optional<egressd_port_value> blendPort(const egressd_port_value* old_value, const egressd_port_value* new_value,
                                            const Blend& blend) {
  if (!old_value && !new_value) return std::nullopt;
  std::optional<egressd_port_value> fresh;
  if (new_value) fresh = withTemps(*new_value, blend);
  if (old_value && fresh && abiEqual(*old_value, *fresh)) return *old_value;
  egressd_port_value out{};
  for (size_t w = 0; w < EGRESSD_SCOPE_WORDS; ++w) {
    const uint64_t keep_old = ~blend.new_only[w], take_new = ~blend.old_only[w];
    out.allow_scopes[w] = (old_value ? old_value->allow_scopes[w] & keep_old : 0) |
                          (fresh ? fresh->allow_scopes[w] & take_new : 0);
    out.redirect_scopes[w] = (old_value ? old_value->redirect_scopes[w] & keep_old : 0) |
                             (fresh ? fresh->redirect_scopes[w] & take_new : 0);
  }
  out.flags = (old_value ? old_value->flags : 0) | (fresh ? fresh->flags : 0);
  out.gateway_id = fresh && fresh->gateway_id ? fresh->gateway_id : old_value ? old_value->gateway_id : 0;
  out.service_id = fresh ? fresh->service_id : old_value->service_id;
  return out;
}

egressd_dns_name_value blendName(const egressd_dns_name_value* old_value, const egressd_dns_name_value& new_value,
                                 const Blend& blend) {
  egressd_dns_name_value out = new_value;
  for (const auto& [temp, scope] : blend.temp_for) {
    setBit(out.exact_scopes, temp, bitOf(out.exact_scopes, scope));
    setBit(out.wildcard_scopes, temp, bitOf(out.wildcard_scopes, scope));
  }
  if (!old_value) return out;
  for (size_t w = 0; w < EGRESSD_SCOPE_WORDS; ++w) {
    out.exact_scopes[w] |= old_value->exact_scopes[w];
    out.wildcard_scopes[w] |= old_value->wildcard_scopes[w];
  }
  if (!out.exact_class) out.exact_class = old_value->exact_class;
  if (!out.wildcard_class) out.wildcard_class = old_value->wildcard_class;
  return out;
}

// A workload changing scope: from -> to (a temporary slot while parked);
// `as`: the scope whose names it may keep.
struct Move {
  uint32_t from, to, as;
  bool operator<(const Move& o) const { return std::tie(from, to, as) < std::tie(o.from, o.to, o.as); }
};

class Syncer {
 public:
  Syncer(MapBackend& maps, DesiredState live, const DesiredState& desired, SyncReport& report)
      : maps_(maps), old_(std::move(live)), cur_(old_), desired_(desired), report_(report) {}

  void run();

 private:
  void planClasses();
  void planSameClass(uint32_t class_id);
  void planScopes();
  void writeClasses(const Blend& blend);
  void writeNames(const Blend& blend);
  void writeScopeSettings(const std::function<bool(uint32_t)>& which);
  void switchWorkloads(const std::function<std::optional<uint32_t>(const egressd_workload_key&, uint32_t)>& target_of);
  void carryLearned(const std::set<Move>& moves);
  void dropLearned(const std::set<uint32_t>& scopes);

  template <typename Map, typename Put>
  void put(Map& cur, const typename Map::key_type& key, const typename Map::mapped_type& value, Put write) {
    auto it = cur.find(key);
    const bool exists = it != cur.end();
    if (exists && abiEqual(it->second, value)) return;
    if (!record(write(), "write", describe(key))) return;
    cur[key] = value;
  }
  template <typename Map, typename Remove>
  void remove(Map& cur, const typename Map::key_type& key, Remove erase) {
    if (!record(erase(), "remove", describe(key))) return;
    cur.erase(key);
  }
  template <typename Map, typename Erase>
  void removeStale(Map& cur, const Map& desired, Erase erase) {
    std::vector<typename Map::key_type> stale;
    for (const auto& kv : cur) {
      if (!desired.count(kv.first)) stale.push_back(kv.first);
    }
    for (const auto& key : stale) remove(cur, key, [&] { return erase(key); });
  }
  // An entry written in two steps that fails twice is reported once.
  bool record(const Status& status, const char* op, const std::string& what) {
    if (status.ok()) return true;
    if (failed_.insert(std::string(op) + " " + what).second)
      report_.errors.push_back(std::string(op) + " " + what + ": " + status.error());
    return false;
  }
  // Keys added, changed and removed between what was live and what is now.
  template <typename Map>
  void count(const Map& before, const Map& after) {
    for (const auto& [key, value] : after) {
      auto it = before.find(key);
      if (it == before.end()) {
        ++report_.added;
      } else if (!abiEqual(it->second, value)) {
        ++report_.changed;
      }
    }
    for (const auto& kv : before) report_.removed += after.count(kv.first) ? 0 : 1;
  }

  MapBackend& maps_;
  const DesiredState old_;
  DesiredState cur_;  // what the maps hold now, as far as our writes went
  const DesiredState& desired_;
  SyncReport& report_;

  std::map<uint32_t, ClassPlan> classes_;  // every class of the intermediate state
  // Each (class, slot) of the intermediate state whose entry may change, with
  // the old and new entries its addresses get (pointers into old_ and
  // desired_, which never change).
  struct ClassEntry {
    egressd_port_key key;
    const egressd_port_value* old_value;
    const egressd_port_value* new_value;
    bool same;  // same class before and after, its own entry unchanged
  };
  std::vector<ClassEntry> entries_;
  ScopeMask sources_{}, targets_{}, changed_{}, parked_{};  // parked: targets reached through a temporary slot
  std::map<uint32_t, uint32_t> temp_of_;  // target -> its temporary slot
  std::set<Move> moves_;
  std::set<std::string> failed_;
};

void Syncer::planClasses() {
  const PrefixIndex old_index(old_.prefixes), new_index(desired_.prefixes);
  std::set<uint32_t> conflicts;
  auto plan = [&](uint32_t class_id, ClassPlan p) {
    auto [it, inserted] = classes_.try_emplace(class_id, p);
    if (!inserted && (it->second.old_class != p.old_class || it->second.new_class != p.new_class))
      conflicts.insert(class_id);
  };
  for (const auto& [prefix, value] : desired_.prefixes)
    plan(value.class_id, {old_index.classCovering(prefix), new_index.classCovering(prefix)});
  for (const auto& [prefix, value] : old_.prefixes) {
    if (!desired_.prefixes.count(prefix))
      plan(value.class_id, {old_index.classCovering(prefix), new_index.classCovering(prefix)});
  }
  // Classes no prefix reaches (hosts learned from DNS): themselves.
  for (const auto& [key, value] : old_.ports) {
    if (!classes_.count(key.class_id)) classes_[key.class_id] = {key.class_id, std::nullopt};
  }
  for (const auto& [key, value] : desired_.ports) {
    auto [it, inserted] = classes_.try_emplace(key.class_id, ClassPlan{std::nullopt, key.class_id});
    if (!inserted && it->second.old_class == key.class_id && !it->second.new_class) it->second.new_class = key.class_id;
  }
  // Every slot of every class; those that stay as they are (same class
  // before and after, its own entry unchanged) are marked: only a temporary
  // slot's bits are written to them.
  std::vector<PortSlot> slots;
  for (const auto& [class_id, plan] : classes_) {
    if (plan.old_class == class_id && plan.new_class == class_id) {
      planSameClass(class_id);
      continue;
    }
    slots.clear();
    if (plan.old_class) appendSlots(old_.ports, *plan.old_class, slots);
    if (plan.new_class) appendSlots(desired_.ports, *plan.new_class, slots);
    std::sort(slots.begin(), slots.end());
    slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
    for (const auto& slot : slots) {
      egressd_port_key key{};
      key.class_id = class_id;
      key.port = slot.first;
      key.protocol = slot.second;
      entries_.push_back(
          {key, lookupPort(old_.ports, plan.old_class, slot), lookupPort(desired_.ports, plan.new_class, slot), false});
    }
  }
  for (uint32_t id : conflicts)
    report_.warnings.push_back("class " + std::to_string(id) +
                               " serves addresses of different classes before and after: blended");
}

// A class that is its own before and after (a prefix or host in both): its
// old and new entries, walked side by side (key order), the common case.
void Syncer::planSameClass(uint32_t class_id) {
  egressd_port_key first{};
  first.class_id = class_id;
  const AbiKeyLess<egressd_port_key> less;
  auto o = old_.ports.lower_bound(first), n = desired_.ports.lower_bound(first);
  auto in_old = [&] { return o != old_.ports.end() && o->first.class_id == class_id; };
  auto in_new = [&] { return n != desired_.ports.end() && n->first.class_id == class_id; };
  while (in_old() || in_new()) {
    if (in_old() && in_new() && !less(o->first, n->first) && !less(n->first, o->first)) {
      entries_.push_back({o->first, &o->second, &n->second, abiEqual(o->second, n->second)});
      ++o, ++n;
    } else if (in_old() && (!in_new() || less(o->first, n->first))) {
      const PortSlot slot{o->first.port, o->first.protocol};
      entries_.push_back({o->first, &o->second, lookupPort(desired_.ports, class_id, slot), false});
      ++o;
    } else {
      const PortSlot slot{n->first.port, n->first.protocol};
      entries_.push_back({n->first, lookupPort(old_.ports, class_id, slot), &n->second, false});
      ++n;
    }
  }
}

void Syncer::planScopes() {
  // What changes, scope by scope: bits anywhere, or the slot's settings.
  for (const auto& e : entries_) {
    const auto *o = e.old_value, *n = e.new_value;
    for (size_t w = 0; w < EGRESSD_SCOPE_WORDS; ++w) {
      changed_[w] |= ((o ? o->allow_scopes[w] : 0) ^ (n ? n->allow_scopes[w] : 0)) |
                     ((o ? o->redirect_scopes[w] : 0) ^ (n ? n->redirect_scopes[w] : 0));
    }
  }
  for (uint32_t id = 0; id < EGRESSD_MAX_SCOPES; ++id) {
    auto o = old_.scopes.find(id), n = desired_.scopes.find(id);
    const bool in_old = o != old_.scopes.end(), in_new = n != desired_.scopes.end();
    if (in_old != in_new || (in_old && !abiEqual(o->second, n->second))) addScope(changed_, id);
  }
  for (const auto& [key, value] : desired_.workloads) {
    auto it = old_.workloads.find(key);
    if (it == old_.workloads.end() || it->second.scope_id == value.scope_id) continue;
    addScope(sources_, it->second.scope_id);
    addScope(targets_, value.scope_id);
    ++report_.moved_workloads;
  }
  // A changing target that is also a source can't hold its old and its new
  // bits at once: its joiners wait in a slot neither state uses.
  uint32_t next_free = 0;
  for (uint32_t id = 0; id < EGRESSD_MAX_SCOPES; ++id) {
    if (!hasScope(targets_, id) || !hasScope(sources_, id) || !hasScope(changed_, id)) continue;
    while (next_free < EGRESSD_MAX_SCOPES && (old_.scopes.count(next_free) || desired_.scopes.count(next_free) ||
                                              std::any_of(temp_of_.begin(), temp_of_.end(),
                                                          [&](const auto& kv) { return kv.second == next_free; })))
      ++next_free;
    if (next_free >= EGRESSD_MAX_SCOPES) {
      report_.warnings.push_back("no free scope slot to move workloads into scope " + std::to_string(id) +
                                 " make-before-break: they move directly");
      continue;
    }
    temp_of_[id] = next_free;
    addScope(parked_, id);
  }
  for (const auto& [key, value] : desired_.workloads) {
    auto it = old_.workloads.find(key);
    if (it == old_.workloads.end() || it->second.scope_id == value.scope_id) continue;
    auto temp = temp_of_.find(value.scope_id);
    moves_.insert({it->second.scope_id, temp == temp_of_.end() ? value.scope_id : temp->second, value.scope_id});
  }
}

void Syncer::writeClasses(const Blend& blend) {
  const bool temps = !blend.temp_for.empty();
  for (const auto& e : entries_) {
    if (e.same && !temps) continue;
    auto value = blendPort(e.old_value, e.new_value, blend);
    if (!value) continue;
    put(cur_.ports, e.key, *value, [&] { return maps_.putPort(e.key, *value); });
  }
}

void Syncer::writeNames(const Blend& blend) {
  for (const auto& [key, value] : desired_.dns_names) {
    auto old_it = old_.dns_names.find(key);
    const auto blended = blendName(old_it == old_.dns_names.end() ? nullptr : &old_it->second, value, blend);
    put(cur_.dns_names, key, blended, [&, key = key] { return maps_.putDnsName(key, blended); });
  }
}

void Syncer::writeScopeSettings(const std::function<bool(uint32_t)>& which) {
  for (const auto& [id, value] : desired_.scopes) {
    if (which(id)) put(cur_.scopes, id, value, [&, id = id, value = value] { return maps_.putScope(id, value); });
  }
}

void Syncer::switchWorkloads(
    const std::function<std::optional<uint32_t>(const egressd_workload_key&, uint32_t)>& target_of) {
  for (const auto& [key, value] : desired_.workloads) {
    auto scope = target_of(key, value.scope_id);
    if (!scope) continue;
    egressd_workload_value v = value;
    v.scope_id = *scope;
    put(cur_.workloads, key, v, [&] { return maps_.putWorkload(key, v); });
  }
}

// What `from` learned, for the names `as` may learn, added to `to`: the
// workload that moves keeps the IPs its answers taught, as a connection pool
// or a JVM cache expects. Read and merged like the kernel merges an answer.
void Syncer::carryLearned(const std::set<Move>& moves) {
  if (moves.empty()) return;
  std::map<uint32_t, std::set<uint32_t>> learnable;  // scope -> host classes it may learn
  for (const auto& move : moves) learnable[move.as];
  for (const auto& [key, name] : desired_.dns_names) {
    for (auto& [scope, classes] : learnable) {
      if (name.exact_class && bitOf(name.exact_scopes, scope)) classes.insert(name.exact_class);
      if (name.wildcard_class && bitOf(name.wildcard_scopes, scope)) classes.insert(name.wildcard_class);
    }
  }
  auto entries = maps_.readLearned();
  if (!entries) {
    report_.errors.push_back("reading dns_learned to carry learned names: " + entries.error());
    return;
  }
  const uint64_t now = bootNowNs();
  for (const auto& [key, value] : *entries) {
    if (value.expires_ns <= now) continue;
    for (const auto& move : moves) {
      if (move.from != key.scope_id || move.from == move.to) continue;
      std::vector<uint32_t> classes;
      for (uint32_t id : value.class_ids) {
        if (id && learnable[move.as].count(id)) classes.push_back(id);
      }
      if (classes.empty()) continue;
      egressd_dns_learned_key to = key;
      to.scope_id = move.to;
      auto existing = maps_.lookupLearned(to);
      if (!existing) {
        record(Status(fail(existing.error())), "carry", describe(to));
        continue;
      }
      egressd_dns_learned_value next{};
      if (*existing && (*existing)->expires_ns > now) next = **existing;
      const egressd_dns_learned_value before = next;
      for (uint32_t id : classes) {
        size_t slot = EGRESSD_DNS_CLASSES_PER_IP - 1;
        for (size_t j = 0; j < EGRESSD_DNS_CLASSES_PER_IP; ++j) {
          if (next.class_ids[j] == id || !next.class_ids[j]) {
            slot = j;
            break;
          }
        }
        next.class_ids[slot] = id;
      }
      next.expires_ns = std::max(next.expires_ns, value.expires_ns);
      if (*existing && abiEqual(before, next)) continue;
      if (record(maps_.putLearned(to, next), "carry", describe(to))) ++report_.learned_copied;
    }
  }
}

void Syncer::dropLearned(const std::set<uint32_t>& scopes) {
  if (scopes.empty()) return;
  auto entries = maps_.readLearned();
  if (!entries) {
    report_.errors.push_back("reading dns_learned to remove stale scopes: " + entries.error());
    return;
  }
  for (const auto& [key, value] : *entries) {
    if (scopes.count(key.scope_id) && record(maps_.deleteLearned(key), "remove", describe(key)))
      ++report_.learned_removed;
  }
}

void Syncer::run() {
  planClasses();
  planScopes();
  ScopeMask changing_sources{};
  for (size_t w = 0; w < EGRESSD_SCOPE_WORDS; ++w) changing_sources[w] = sources_[w] & changed_[w];
  // Targets that get their new bits before their joiners come (the others
  // are parked, or are the same before and after).
  ScopeMask ready_targets{};
  for (size_t w = 0; w < EGRESSD_SCOPE_WORDS; ++w) ready_targets[w] = targets_[w] & changed_[w] & ~sources_[w];
  const bool any_ready = ready_targets != ScopeMask{}, any_changing_source = changing_sources != ScopeMask{};
  Blend blend;
  for (const auto& [target, temp] : temp_of_) blend.temp_for[temp] = target;
  blend.old_only = changing_sources;

  // 0. Gateways before any redirect bit names them.
  for (const auto& [id, value] : desired_.gateways)
    put(cur_.gateways, id, value, [&, id = id, value = value] { return maps_.putGateway(id, value); });
  // 1. Every class of the intermediate state; names; servers; new slots.
  writeClasses(blend);
  writeNames(blend);
  for (const auto& [key, value] : desired_.dns_servers)
    put(cur_.dns_servers, key, value, [&, key = key, value = value] { return maps_.putDnsServer(key, value); });
  writeScopeSettings([&](uint32_t id) { return !old_.scopes.count(id); });
  for (const auto& [target, temp] : temp_of_) {
    const egressd_scope_value value = desired_.scopes.at(target);
    put(cur_.scopes, temp, value, [&, temp = temp] { return maps_.putScope(temp, value); });
  }
  // 2. New prefixes, then settings of scopes that now have old | new bits.
  for (const auto& [prefix, value] : desired_.prefixes)
    put(cur_.prefixes, prefix, value, [&, prefix = prefix, value = value] { return maps_.putPrefix(prefix, value); });
  writeScopeSettings([&](uint32_t id) { return old_.scopes.count(id) && !hasScope(changing_sources, id); });
  // 3. Targets: exactly their new bits.
  blend.new_only = ready_targets;
  if (any_ready) writeClasses(blend);
  std::set<uint32_t> renamed;  // slots that held another scope: what it learned is not theirs
  for (const auto& [id, value] : desired_.scopes) {
    auto it = old_.scopes.find(id);
    if (it != old_.scopes.end() && it->second.name_hash != value.name_hash) renamed.insert(id);
  }
  std::set<uint32_t> renamed_ready, renamed_parked;
  for (uint32_t id : renamed) (hasScope(parked_, id) ? renamed_parked : renamed_ready).insert(id);
  dropLearned(renamed_ready);
  // 4. Workloads switch (parked ones to their temporary slot).
  // A parked workload sees, in its temporary slot, what its target scope
  // learned too (the target's own workloads' answers: its new verdicts).
  std::set<Move> direct, from_temp;
  for (const auto& move : moves_) direct.insert(move);
  for (const auto& [target, temp] : temp_of_) {
    if (!renamed.count(target)) direct.insert({target, temp, target});
  }
  carryLearned(direct);
  switchWorkloads([&](const egressd_workload_key& key, uint32_t scope) -> std::optional<uint32_t> {
    auto was = old_.workloads.find(key);
    if (was == old_.workloads.end() || was->second.scope_id == scope) return scope;  // new, or staying
    auto temp = temp_of_.find(scope);
    return temp == temp_of_.end() ? scope : temp->second;
  });
  carryLearned(direct);
  // 5. Stale workloads.
  for (const auto& [key, value] : old_.workloads) {
    if (!desired_.workloads.count(key))
      remove(cur_.workloads, key, [&, key = key] { return maps_.deleteWorkload(key); });
  }
  // 6. Sources: old | new, then their settings.
  blend.old_only = ScopeMask{};
  if (any_changing_source) writeClasses(blend);
  writeScopeSettings([&](uint32_t id) { return old_.scopes.count(id) && hasScope(changing_sources, id); });
  // 7. Parked targets: exactly their new bits; their workloads move in.
  if (!temp_of_.empty()) {
    for (size_t w = 0; w < EGRESSD_SCOPE_WORDS; ++w) blend.new_only[w] |= parked_[w];
    writeClasses(blend);
    dropLearned(renamed_parked);
    for (const auto& [target, temp] : temp_of_) from_temp.insert({temp, target, target});
    carryLearned(from_temp);
    switchWorkloads([](const egressd_workload_key&, uint32_t scope) { return scope; });
    carryLearned(from_temp);
  }
  // 8. Every class and name exactly as desired.
  for (const auto& [key, value] : desired_.ports)
    put(cur_.ports, key, value, [&, key = key, value = value] { return maps_.putPort(key, value); });
  for (const auto& [key, value] : desired_.dns_names)
    put(cur_.dns_names, key, value, [&, key = key, value = value] { return maps_.putDnsName(key, value); });
  // 9. Removals.
  std::set<uint32_t> gone;
  for (const auto& [id, value] : cur_.scopes) {
    if (!desired_.scopes.count(id)) gone.insert(id);
  }
  removeStale(cur_.scopes, desired_.scopes, [&](uint32_t id) { return maps_.putScope(id, egressd_scope_value{}); });
  dropLearned(gone);
  removeStale(cur_.dns_names, desired_.dns_names, [&](const auto& key) { return maps_.deleteDnsName(key); });
  removeStale(cur_.dns_servers, desired_.dns_servers, [&](const auto& key) { return maps_.deleteDnsServer(key); });
  removeStale(cur_.prefixes, desired_.prefixes, [&](const auto& key) { return maps_.deletePrefix(key); });
  removeStale(cur_.ports, desired_.ports, [&](const auto& key) { return maps_.deletePort(key); });
  removeStale(cur_.gateways, desired_.gateways,
              [&](uint32_t id) { return maps_.putGateway(id, egressd_gateway_value{}); });

  count(old_.workloads, cur_.workloads);
  count(old_.scopes, cur_.scopes);
  count(old_.prefixes, cur_.prefixes);
  count(old_.ports, cur_.ports);
  count(old_.dns_names, cur_.dns_names);
  count(old_.dns_servers, cur_.dns_servers);
  count(old_.gateways, cur_.gateways);
}

bool slotUsed(const egressd_scope_value& v) { return !abiEqual(v, egressd_scope_value{}); }

// What the maps hold now, without the inactive slots of the scopes array.
Result<DesiredState> readActiveLive(MapBackend& maps) {
  auto live = maps.readLive();
  if (!live.ok()) return live;
  std::erase_if(live.value().scopes, [](const auto& kv) { return !slotUsed(kv.second); });
  return live;
}

}  // namespace

SyncReport syncAllMaps(MapBackend& maps, const DesiredState& desired) {
  SyncReport report;
  auto live = readActiveLive(maps);
  if (!live.ok()) {
    report.errors.push_back("reading live maps: " + live.error());
    return report;
  }
  Syncer(maps, std::move(live.value()), desired, report).run();
  return report;
}

SyncReport syncMaps(MapBackend& maps, const DesiredState& desired) {
  SyncReport report;
  const DesiredState* live = maps.liveView();
  std::optional<DesiredState> read;
  if (!live) {
    auto result = readActiveLive(maps);
    if (!result.ok()) {
      report.errors.push_back("reading live maps: " + result.error());
      return report;
    }
    live = &read.emplace(std::move(result.value()));
  }
  if (std::optional<SyncSubsets> subsets = changedSubsets(*live, desired)) {
    Syncer(maps, std::move(subsets->live), subsets->desired, report).run();
    return report;
  }
  // Everything, from what was read above (a view is copied: the writes change it).
  DesiredState all = read ? std::move(*read) : *live;
  std::erase_if(all.scopes, [](const auto& kv) { return !slotUsed(kv.second); });
  Syncer(maps, std::move(all), desired, report).run();
  return report;
}

}  // namespace egressd
