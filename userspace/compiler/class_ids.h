#pragma once
// Destination class ids in force, recovered from the live maps: a recompile
// keeps each prefix's and each host's class id, and a new prefix or host
// never takes an id the live maps still use. Map sync blends a class's old
// and new entries by id, and a learned IP names its hosts by class id: an id
// that changed owner would lend one destination's rights to another.
#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "compiler/desired_state.h"

namespace egressd::compiler {

struct ClassIds {
  AbiMap<egressd_prefix_key, uint32_t> prefixes;
  std::map<std::pair<std::vector<uint8_t>, bool>, uint32_t> hosts;  // (reversed name, wildcard) -> class
  std::set<uint32_t> used;  // every class id in dest_prefixes, dest_ports and dns_names
};

}  // namespace egressd::compiler
