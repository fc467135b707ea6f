#include "compiler/scope_ids.h"

#include <bitset>

#include "compiler/hashing.h"

namespace egressd::compiler {

uint64_t scopeNameHash(const std::string& scope_key) { return fnv1a64(scope_key); }

ScopeIds scopeIdsFromLive(const DesiredState& live) {
  ScopeIds ids;
  for (const auto& [id, value] : live.scopes) {
    if ((value.flags & EGRESSD_SCOPE_F_ACTIVE) && id < EGRESSD_MAX_SCOPES) ids[value.name_hash] = id;
  }
  return ids;
}

std::map<std::string, std::optional<uint32_t>> assignScopeIds(const std::vector<std::string>& keys,
                                                              const ScopeIds& previous) {
  std::map<std::string, std::optional<uint32_t>> out;
  std::bitset<EGRESSD_MAX_SCOPES> taken, recently_used;
  for (const auto& [hash, id] : previous) {
    if (id < EGRESSD_MAX_SCOPES) recently_used.set(id);
  }
  // Pass 1: every scope that had an id keeps it.
  for (const auto& key : keys) {
    auto it = previous.find(scopeNameHash(key));
    if (it != previous.end() && it->second < EGRESSD_MAX_SCOPES && !taken.test(it->second)) {
      out[key] = it->second;
      taken.set(it->second);
    } else {
      out[key] = std::nullopt;
    }
  }
  // Pass 2: new scopes take the lowest free slot, preferring one no scope
  // held before: map sync adds new bits before it removes stale workloads,
  // so reusing a just-freed id would briefly lend its rights to the old pods.
  auto lowestFree = [&](bool avoid_recent) -> std::optional<uint32_t> {
    for (uint32_t id = 0; id < EGRESSD_MAX_SCOPES; ++id) {
      if (!taken.test(id) && !(avoid_recent && recently_used.test(id))) return id;
    }
    return std::nullopt;
  };
  for (const auto& key : keys) {
    if (out[key]) continue;
    auto id = lowestFree(true);
    if (!id) id = lowestFree(false);
    if (!id) continue;
    out[key] = *id;
    taken.set(*id);
  }
  return out;
}

}  // namespace egressd::compiler
