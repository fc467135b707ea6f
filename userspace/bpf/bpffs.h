#pragma once
// The bpffs directory where maps and links are pinned.
#include <string>

#include "common/result.h"

namespace egressd::bpf {

// Makes sure a bpf filesystem covers dir (mounting one on /sys/fs/bpf when
// dir lies below it, else on dir itself) and creates dir.
Status ensureBpffs(const std::string& dir);

// Removes the map pins in dir (not the links): the state a new ABI replaces.
Status removeMapPins(const std::string& dir);

// Detaches and unpins every link under dir/links, removes every pin in dir,
// and removes the directories: what `egressd --uninstall` does.
Status unpinAll(const std::string& bpffs_dir);

inline std::string linksDir(const std::string& bpffs_dir) { return bpffs_dir + "/links"; }

}  // namespace egressd::bpf
