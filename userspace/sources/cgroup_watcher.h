#pragma once
// Follows cgroup directories with inotify, so the agent reacts to a
// workload's cgroup appearing, going or being created again (a new cgroup
// id at the same path) and to its first process (cgroup.events turning
// "populated 1") as they happen, not on a timer.
#include <chrono>
#include <map>
#include <set>
#include <string>

#include "common/result.h"

namespace egressd::sources {

class CgroupWatcher {
 public:
  static Result<CgroupWatcher> open();
  CgroupWatcher(CgroupWatcher&& other) noexcept;
  CgroupWatcher& operator=(CgroupWatcher&&) = delete;
  CgroupWatcher(const CgroupWatcher&) = delete;
  ~CgroupWatcher();

  // Follows exactly these: directories whose subdirectories come and go,
  // and files whose content changes (cgroup.events). Paths that don't exist
  // are skipped; the caller passes their nearest existing ancestor instead.
  void watch(const std::set<std::string>& dirs, const std::set<std::string>& files);

  struct Changes {
    bool directories = false;  // a subdirectory of a watched one was created, removed or moved
    bool files = false;        // a watched file changed (or went with its cgroup)
    bool any() const { return directories || files; }
  };
  // Reads what is queued, without waiting.
  Changes drain();
  // Waits up to `timeout` for something, then drains.
  Result<Changes> wait(std::chrono::milliseconds timeout);
  int fd() const { return inotify_fd_; }

 private:
  explicit CgroupWatcher(int inotify_fd) : inotify_fd_(inotify_fd) {}

  int inotify_fd_ = -1;
  std::map<int, std::string> dirs_;   // watch descriptor -> path
  std::map<int, std::string> files_;
};

}  // namespace egressd::sources
