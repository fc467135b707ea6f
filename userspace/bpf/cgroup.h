#pragma once
// cgroup v2 facts the datapath needs: where the hierarchy is mounted and the
// id of a directory (what bpf_get_current_cgroup_id() returns).
#include <cstdint>
#include <string>

#include "common/result.h"

namespace egressd::bpf {

// Mount point of the cgroup2 hierarchy from /proc/self/mountinfo; empty if
// none (works for the unified and the hybrid layout alike).
std::string cgroup2MountRoot();

// The cgroup v2 id of a directory, which is its inode number.
Result<uint64_t> cgroupIdOf(const std::string& path);

}  // namespace egressd::bpf
