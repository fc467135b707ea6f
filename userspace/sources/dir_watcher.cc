#include "sources/dir_watcher.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

namespace egressd::sources {
namespace {

constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                                IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_MODIFY;

}  // namespace

Result<DirWatcher> DirWatcher::open(const std::string& dir) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return fail(std::string("inotify_init1: ") + std::strerror(errno));
  DirWatcher watcher(fd, dir);
  if (Status s = watcher.watchTree(dir); !s) return fail(s.error());
  return watcher;
}

DirWatcher::DirWatcher(DirWatcher&& other) noexcept
    : inotify_fd_(other.inotify_fd_), dir_(std::move(other.dir_)) {
  other.inotify_fd_ = -1;
}

DirWatcher::~DirWatcher() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
}

Status DirWatcher::watchTree(const std::string& dir) {
  if (inotify_add_watch(inotify_fd_, dir.c_str(), kWatchMask) < 0) {
    return fail("watch " + dir + ": " + std::strerror(errno));
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    // Hidden directories are ConfigMap internals (..data): the symlink swap at
    // the top level already tells us about their changes.
    if (entry.is_directory(ec) && !entry.is_symlink(ec) && entry.path().filename().string()[0] != '.') {
      if (Status s = watchTree(entry.path().string()); !s) return s;
    }
  }
  return Ok{};
}

bool DirWatcher::drain() {
  alignas(inotify_event) char buf[16384];
  bool changed = false;
  for (;;) {
    ssize_t n = read(inotify_fd_, buf, sizeof(buf));
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      changed = true;
      if ((event->mask & IN_ISDIR) && (event->mask & (IN_CREATE | IN_MOVED_TO)) && event->len > 0) {
        // A new subdirectory: watch it too (best effort; reload reads it anyway).
        (void)watchTree(dir_);
      }
      p += sizeof(inotify_event) + event->len;
    }
  }
  return changed;
}

Result<bool> DirWatcher::waitForChange(std::chrono::milliseconds timeout, std::chrono::milliseconds settle) {
  pollfd pfd{inotify_fd_, POLLIN, 0};
  int rc = poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (rc < 0) {
    if (errno == EINTR) return false;
    return fail(std::string("poll inotify: ") + std::strerror(errno));
  }
  if (rc == 0 || !drain()) return false;
  // Let the rest of a burst arrive so one reload sees all of it.
  while (poll(&pfd, 1, static_cast<int>(settle.count())) > 0) drain();
  return true;
}

}  // namespace egressd::sources
