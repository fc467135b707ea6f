#include "kernel/test_cgroup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "bpf/cgroup.h"

namespace egressd::ktest {
namespace {
std::atomic<int> sequence{0};
}

TestCgroupTree::TestCgroupTree() {
  const std::string mount = egressd::bpf::cgroup2MountRoot();
  if (mount.empty()) {
    error_ = "no cgroup2 mount";
    return;
  }
  const std::string root =
      mount + "/egressd-ktest-" + std::to_string(::getpid()) + "-" + std::to_string(sequence++);
  if (::mkdir(root.c_str(), 0755) != 0 && errno != EEXIST) {
    error_ = "mkdir " + root + ": " + std::strerror(errno);
    return;
  }
  root_ = root;
  created_.push_back(root);
}

std::string TestCgroupTree::make(const std::string& relative) {
  std::string path = root_;
  size_t start = 0;
  while (start <= relative.size()) {
    const size_t slash = relative.find('/', start);
    const std::string part = relative.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) {
      path += "/" + part;
      if (::mkdir(path.c_str(), 0755) == 0) created_.push_back(path);
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return path;
}

TestCgroupTree::~TestCgroupTree() {
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    // An exited child may take a moment to leave its cgroup.
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (::rmdir(it->c_str()) == 0 || errno != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace egressd::ktest
