#pragma once
// Watches a policy directory (and its subdirectories) with inotify and tells
// the caller when something changed. Bursts (an editor's write + rename, a
// ConfigMap's symlink swap) are coalesced into one notification.
#include <chrono>
#include <string>

#include "common/result.h"

namespace egressd::sources {

class DirWatcher {
 public:
  static Result<DirWatcher> open(const std::string& dir);
  DirWatcher(DirWatcher&& other) noexcept;
  DirWatcher& operator=(DirWatcher&&) = delete;
  DirWatcher(const DirWatcher&) = delete;
  ~DirWatcher();

  // Waits up to `timeout` for a change. Returns true when the directory
  // changed: events are drained, then it waits `settle` for the rest of a burst.
  Result<bool> waitForChange(std::chrono::milliseconds timeout,
                             std::chrono::milliseconds settle = std::chrono::milliseconds(10));
  int fd() const { return inotify_fd_; }  // readable when a change is queued

 private:
  DirWatcher(int inotify_fd, std::string dir) : inotify_fd_(inotify_fd), dir_(std::move(dir)) {}
  Status watchTree(const std::string& dir);
  bool drain();  // true if a relevant event was read; adds watches for new subdirectories

  int inotify_fd_ = -1;
  std::string dir_;
};

}  // namespace egressd::sources
