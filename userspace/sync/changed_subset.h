#pragma once
// The part of the live and desired maps a sync must look at when only
// destinations changed: tens of thousands of unchanged entries need no plan,
// and planning them made a one-entry change cost as much as a full sync.
#include <optional>

#include "compiler/desired_state.h"

namespace egressd {

struct SyncSubsets {
  DesiredState live;
  DesiredState desired;
};

// Every entry that differs, and what map sync needs to order its writes:
// the prefixes covering each included prefix (the longest match of an
// intermediate state), every prefix and port entry of each class involved,
// in both states. Workloads, scopes, servers and gateways are small and
// copied whole. nullopt when a workload or a scope changed: moving workloads
// between scopes needs every name and class (map_sync.cc), so all is synced.
std::optional<SyncSubsets> changedSubsets(const DesiredState& live, const DesiredState& desired);

}  // namespace egressd
