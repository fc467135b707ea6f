#pragma once
// Stable scope ids: a scope keeps its id across recompiles and restarts
// (found by the hash of its key), so the bitmaps of other scopes never move.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/compiler.h"

namespace egressd::compiler {

// keys: every scope of this compile. nullopt: no free slot left.
std::map<std::string, std::optional<uint32_t>> assignScopeIds(const std::vector<std::string>& keys,
                                                              const ScopeIds& previous);

}  // namespace egressd::compiler
