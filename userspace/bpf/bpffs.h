#pragma once
// The bpffs directory where maps and links are pinned.
#include <string>

#include "common/result.h"

namespace egressd::bpf {

// Makes sure a bpf filesystem covers dir (mounting one on /sys/fs/bpf when
// dir lies below it, else on dir itself) and creates dir.
Status ensureBpffs(const std::string& dir);

// Detaches and unpins every link under dir/links, removes every pin in dir
// and in an unfinished upgrade's staging dir, and removes the directories:
// what `egressd --uninstall` does.
Status unpinAll(const std::string& bpffs_dir);

inline std::string linksDir(const std::string& bpffs_dir) { return bpffs_dir + "/links"; }

// Where an upgrade pins the maps it creates while the old programs still run
// on the old ones (bpf/datapath.cc); renamed into bpffs_dir after the swap.
// (bpffs allows no dot in a name: no hidden directory.)
inline std::string stagingDir(const std::string& bpffs_dir) { return bpffs_dir + "/upgrade"; }

// Removes every pin in dir and dir itself (a missing dir is not an error).
Status removePinDir(const std::string& dir);

}  // namespace egressd::bpf
