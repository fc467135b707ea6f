#include "compiler/prefix_classes.h"

#include <algorithm>
#include <set>

#include "compiler/address.h"
#include "compiler/hashing.h"

namespace egressd::compiler {

void PrefixTable::Entry::merge(const Entry& other) {
  for (size_t i = 0; i < scopes.size(); ++i) scopes[i] |= other.scopes[i];
  for (size_t i = 0; i < redirect_scopes.size(); ++i) redirect_scopes[i] |= other.redirect_scopes[i];
  if (other.gateway_id && (!gateway_id || other.gateway_id < gateway_id)) gateway_id = other.gateway_id;
  flags |= other.flags;
  service_id = std::min(service_id, other.service_id);
  always_service_id = std::min(always_service_id, other.always_service_id);
}

egressd_port_value PrefixTable::Entry::value() const {
  egressd_port_value v{};
  std::copy(scopes.begin(), scopes.end(), v.allow_scopes);
  std::copy(redirect_scopes.begin(), redirect_scopes.end(), v.redirect_scopes);
  v.gateway_id = gateway_id;
  v.flags = flags;
  // An ALWAYS entry is explained by what made it ALWAYS.
  v.service_id = (flags & EGRESSD_PORT_F_ALWAYS) ? always_service_id : service_id;
  return v;
}

void PrefixTable::grant(const egressd_prefix_key& prefix, uint16_t port, uint8_t protocol, const ScopeSet& scopes,
                        uint32_t service_id) {
  Entry add;
  add.scopes = scopes;
  add.service_id = service_id;
  table_[prefix][{port, protocol}].merge(add);
  lengths_.insert(prefix.prefixlen);
}

void PrefixTable::redirect(const egressd_prefix_key& prefix, uint16_t port, uint8_t protocol, const ScopeSet& scopes,
                           uint32_t gateway_id) {
  Entry add;
  add.scopes = scopes;
  add.redirect_scopes = scopes;
  add.gateway_id = gateway_id;
  table_[prefix][{port, protocol}].merge(add);
  lengths_.insert(prefix.prefixlen);
}

void PrefixTable::grantAlways(const egressd_prefix_key& prefix, uint16_t port, uint8_t protocol,
                              uint32_t service_id) {
  Entry add;
  add.flags = EGRESSD_PORT_F_ALWAYS;
  add.always_service_id = service_id;
  table_[prefix][{port, protocol}].merge(add);
  lengths_.insert(prefix.prefixlen);
}

uint32_t PrefixTable::classIdHash(const egressd_prefix_key& prefix) {
  const uint64_t h = fnv1a64(&prefix, sizeof(prefix));
  return static_cast<uint32_t>(h ^ (h >> 32));
}

PrefixTable::PortEntries PrefixTable::flattened(const egressd_prefix_key& prefix) const {
  PortEntries out;
  // Every covering prefix is `prefix` masked to a shorter length: one probe
  // per prefix length in use (a handful) instead of a scan of every prefix.
  for (uint32_t len : lengths_) {
    if (len > prefix.prefixlen) break;
    auto it = table_.find(maskPrefix(prefix, len));
    if (it == table_.end()) continue;
    for (const auto& [key, entry] : it->second) out[key].merge(entry);
  }
  // Fold "any port" into every exact port of the same protocol, so the kernel
  // may stop at the first entry it finds (exact port, else port 0).
  for (auto& [key, entry] : out) {
    if (key.first == kAnyPort) continue;
    if (auto any = out.find({kAnyPort, key.second}); any != out.end()) entry.merge(any->second);
  }
  return out;
}

void PrefixTable::emit(DesiredState& desired, const ClassIds& previous) const {
  // Prefixes in force keep their ids. New ones: the hash, and on a collision
  // the next free id, in prefix order, so the result depends only on the set
  // of prefixes (and on the ids in force).
  std::set<uint32_t> taken;
  AbiMap<egressd_prefix_key, uint32_t> ids;
  for (const auto& [prefix, own] : table_) {
    auto it = previous.prefixes.find(prefix);
    if (it != previous.prefixes.end() && taken.insert(it->second).second) ids[prefix] = it->second;
  }
  for (const auto& [prefix, own] : table_) {
    if (ids.count(prefix)) continue;
    uint32_t class_id = classIdHash(prefix);
    while (previous.used.count(class_id) || !taken.insert(class_id).second) ++class_id;
    ids[prefix] = class_id;
  }
  for (const auto& [prefix, own] : table_) {
    const uint32_t class_id = ids.at(prefix);
    desired.prefixes[prefix] = egressd_prefix_value{class_id};
    for (const auto& [key, entry] : flattened(prefix)) {
      egressd_port_key port_key{};
      port_key.class_id = class_id;
      port_key.port = key.first;
      port_key.protocol = key.second;
      desired.ports[port_key] = entry.value();
    }
  }
}

}  // namespace egressd::compiler
