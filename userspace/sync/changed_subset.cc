#include "sync/changed_subset.h"

#include <set>
#include <vector>

#include "compiler/address.h"

namespace egressd {
namespace {

using PrefixMap = AbiMap<egressd_prefix_key, egressd_prefix_value>;
using PortMap = AbiMap<egressd_port_key, egressd_port_value>;

// Calls differs(key) for every key in one map and not the other, or with
// another value: both maps walked side by side, in key order.
template <typename Map, typename F>
void forEachDifference(const Map& a, const Map& b, F differs) {
  const auto less = a.key_comp();
  auto i = a.begin(), j = b.begin();
  while (i != a.end() || j != b.end()) {
    if (j == b.end() || (i != a.end() && less(i->first, j->first))) {
      differs(i->first);
      ++i;
    } else if (i == a.end() || less(j->first, i->first)) {
      differs(j->first);
      ++j;
    } else {
      if (!abiEqual(i->second, j->second)) differs(i->first);
      ++i, ++j;
    }
  }
}

template <typename Map>
bool sameEntries(const Map& a, const Map& b) {
  bool same = true;
  forEachDifference(a, b, [&](const auto&) { same = false; });
  return same;
}

template <typename Map>
void copyEntry(const Map& from, const typename Map::key_type& key, Map& to) {
  if (auto it = from.find(key); it != from.end()) to.insert(*it);
}

// One state's side of the subset: what it holds of the prefixes and classes
// asked for.
struct Side {
  const DesiredState& full;
  DesiredState& subset;
  std::set<uint32_t> lengths;  // prefix lengths in full.prefixes

  Side(const DesiredState& f, DesiredState& s) : full(f), subset(s) {
    for (const auto& [key, value] : full.prefixes) lengths.insert(key.prefixlen);
  }

  // The prefix itself and every prefix covering it; their classes.
  bool addCovering(const egressd_prefix_key& prefix, std::set<uint32_t>& classes) {
    bool grew = false;
    for (uint32_t len : lengths) {
      if (len > prefix.prefixlen) break;
      auto it = full.prefixes.find(compiler::maskPrefix(prefix, len));
      if (it == full.prefixes.end()) continue;
      grew |= subset.prefixes.insert(*it).second;
      grew |= classes.insert(it->second.class_id).second;
    }
    return grew;
  }

  // Every prefix serving one of `classes`.
  void addPrefixesOf(const std::set<uint32_t>& classes, std::vector<egressd_prefix_key>& prefixes) {
    for (const auto& [key, value] : full.prefixes)
      if (classes.count(value.class_id) && !subset.prefixes.count(key)) prefixes.push_back(key);
  }

  void addPorts(uint32_t class_id) {
    egressd_port_key first{};
    first.class_id = class_id;
    for (auto it = full.ports.lower_bound(first); it != full.ports.end() && it->first.class_id == class_id; ++it)
      subset.ports.insert(*it);
  }
};

}  // namespace

std::optional<SyncSubsets> changedSubsets(const DesiredState& live, const DesiredState& desired) {
  std::map<uint32_t, egressd_scope_value> live_scopes = live.scopes;  // an array map's unused slots are zero
  std::erase_if(live_scopes, [](const auto& kv) { return abiEqual(kv.second, egressd_scope_value{}); });
  if (!sameEntries(live.workloads, desired.workloads) || !sameEntries(live_scopes, desired.scopes))
    return std::nullopt;
  SyncSubsets out;
  for (auto* pair : {&out.live, &out.desired}) {
    const DesiredState& from = pair == &out.live ? live : desired;
    pair->workloads = from.workloads;
    pair->dns_servers = from.dns_servers;
    pair->gateways = from.gateways;
  }
  out.live.scopes = std::move(live_scopes);
  out.desired.scopes = desired.scopes;
  Side sides[] = {{live, out.live}, {desired, out.desired}};

  std::set<uint32_t> classes;
  std::vector<egressd_prefix_key> prefixes;
  forEachDifference(live.prefixes, desired.prefixes, [&](const auto& key) { prefixes.push_back(key); });
  forEachDifference(live.ports, desired.ports, [&](const auto& key) { classes.insert(key.class_id); });
  forEachDifference(live.dns_names, desired.dns_names, [&](const auto& key) {
    for (auto& side : sides) {
      auto it = side.full.dns_names.find(key);
      if (it == side.full.dns_names.end()) continue;
      side.subset.dns_names.insert(*it);
      if (it->second.exact_class) classes.insert(it->second.exact_class);
      if (it->second.wildcard_class) classes.insert(it->second.wildcard_class);
    }
  });
  // Until nothing is added: a class brings every prefix serving it (a class
  // id can pass from one prefix to another), a prefix the ones covering it.
  for (bool grew = true; grew;) {
    grew = false;
    for (auto& side : sides) side.addPrefixesOf(classes, prefixes);
    for (const auto& prefix : prefixes)
      for (auto& side : sides) grew |= side.addCovering(prefix, classes);
    prefixes.clear();
  }
  for (uint32_t class_id : classes)
    for (auto& side : sides) side.addPorts(class_id);
  return out;
}

}  // namespace egressd
