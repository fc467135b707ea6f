#pragma once
// Map sync: makes the live kernel maps equal to the desired state with the
// fewest writes, in an order that keeps every in-flight lookup consistent.
// Never flushes: enforcement continues through a restart.
#include <cstddef>
#include <string>
#include <vector>

#include "compiler/desired_state.h"
#include "sync/map_backend.h"

namespace egressd {

struct SyncReport {
  size_t added = 0, changed = 0, removed = 0;
  std::vector<std::string> errors;  // one per entry that failed; the others still applied
};

SyncReport syncMaps(MapBackend& maps, const DesiredState& desired);

}  // namespace egressd
