#pragma once
// Runs work inside another network namespace without moving the agent:
// setns() changes only the calling thread, so the work runs on a thread of
// its own that ends with it.
#include <functional>
#include <string>

#include "common/result.h"

namespace egressd::netns {

// fn runs on a new thread that has joined the namespace open as netns_fd;
// returns fn's status, or why the thread could not join.
Status runInNetns(int netns_fd, const std::function<Status()>& fn);

// The inode that identifies the namespace open as fd (or at a path).
Result<uint64_t> netnsInode(int netns_fd);
Result<uint64_t> netnsInode(const std::string& path);

}  // namespace egressd::netns
