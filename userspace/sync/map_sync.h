#pragma once
// Map sync: makes the live kernel maps equal to the desired state, make
// before break: no lookup in any intermediate state gives a verdict that the
// old and the new policy both disagree with (map_sync.cc says how). Never
// flushes: enforcement continues through a restart.
#include <cstddef>
#include <string>
#include <vector>

#include "compiler/desired_state.h"
#include "sync/map_backend.h"

namespace egressd {

struct SyncReport {
  size_t added = 0, changed = 0, removed = 0;  // keys, old maps against new (a key may be written twice)
  size_t moved_workloads = 0;                  // workloads whose scope id changed
  size_t learned_copied = 0;                   // dns_learned entries carried to a moved workload's scope
  size_t learned_removed = 0;                  // dns_learned entries of scopes that are gone
  std::vector<std::string> errors;    // one per entry that failed; the others still applied
  std::vector<std::string> warnings;  // where the order could not keep every verdict (and why)
};

// Plans and writes only what changed (changed_subset.h) when no workload
// moves; otherwise as syncAllMaps().
SyncReport syncMaps(MapBackend& maps, const DesiredState& desired);

// Plans every entry of both states: the reference syncMaps() must write
// exactly as (tests/unit/map_sync_subset_test.cc).
SyncReport syncAllMaps(MapBackend& maps, const DesiredState& desired);

}  // namespace egressd
