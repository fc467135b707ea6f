// egressd_connect_loop: connect()s in a loop to destinations whose verdict
// must not change (one allowed, one denied, ...) until a stop file appears,
// then prints per destination how many were allowed, refused with EPERM,
// hung or failed otherwise, and one line per wrong verdict with its time.
// The churn e2e cases run it while the policy flips under it.
//   egressd_connect_loop --stop-file PATH [--timeout-ms N] [--pause-us N]
//                        allow IP PORT [deny IP PORT ...]
// Output (stdout, at the end):
//   dest allow 192.0.2.10:80 connects 1234 allowed 1234 eperm 0 hung 0 other 0 wrong 0
//   wrong allow 192.0.2.10:80 EPERM at 1234.567 ms (unix 1765000000.123)
//   total connects 2468 wrong 0
// A wrong verdict: EPERM (or another error) on an allowed destination, a
// completed connect on a denied one, and any connect that hangs.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Destination {
  bool allowed;
  std::string text;  // "IP:PORT"
  sockaddr_storage addr{};
  socklen_t len = 0;
  long connects = 0, ok = 0, eperm = 0, hung = 0, other = 0, wrong = 0;
};

struct Wrong {
  const Destination* dest;
  std::string result;
  double at_ms;
  double unix_s;
};

double seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

bool parse(const char* ip, const char* port, Destination& d) {
  const int p = std::atoi(port);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&d.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&d.addr);
  if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(p));
    d.len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(p));
    d.len = sizeof(*v6);
  } else {
    return false;
  }
  d.text = std::string(ip) + ":" + port;
  return true;
}

// One non-blocking connect; "ok", "EPERM", "hung" or the errno's name.
std::string connectOnce(const Destination& d, int timeout_ms) {
  const int fd = socket(d.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket:") + strerrorname_np(errno);
  std::string result = "ok";
  if (connect(fd, reinterpret_cast<const sockaddr*>(&d.addr), d.len) != 0) {
    if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int n = poll(&p, 1, timeout_ms);
      int err = 0;
      socklen_t len = sizeof(err);
      if (n == 0) {
        result = "hung";
      } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
        result = err == EPERM ? "EPERM" : strerrorname_np(err);
      }
    } else {
      result = errno == EPERM ? "EPERM" : strerrorname_np(errno);
    }
  }
  // Reset, not FIN: no TIME_WAIT, so a long loop never runs out of local
  // ports (EADDRNOTAVAIL would count as a wrong verdict).
  linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  close(fd);
  return result;
}

int usage() {
  std::fprintf(stderr,
               "usage: egressd_connect_loop --stop-file PATH [--timeout-ms N] [--pause-us N] "
               "allow|deny IP PORT [allow|deny IP PORT ...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string stop_file;
  int timeout_ms = 1000, pause_us = 0;
  std::vector<Destination> dests;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--stop-file" && i + 1 < argc) {
      stop_file = argv[++i];
    } else if (arg == "--timeout-ms" && i + 1 < argc) {
      timeout_ms = std::atoi(argv[++i]);
    } else if (arg == "--pause-us" && i + 1 < argc) {
      pause_us = std::atoi(argv[++i]);
    } else if ((arg == "allow" || arg == "deny") && i + 2 < argc) {
      Destination d;
      d.allowed = arg == "allow";
      if (!parse(argv[i + 1], argv[i + 2], d)) return usage();
      dests.push_back(d);
      i += 2;
    } else {
      return usage();
    }
  }
  if (stop_file.empty() || dests.empty()) return usage();

  std::vector<Wrong> wrongs;
  const double start = seconds(CLOCK_MONOTONIC);
  struct stat st{};
  for (long round = 0;; ++round) {
    if ((round & 15) == 0 && stat(stop_file.c_str(), &st) == 0) break;
    for (auto& d : dests) {
      const std::string r = connectOnce(d, timeout_ms);
      ++d.connects;
      bool wrong;
      if (r == "ok") {
        ++d.ok;
        wrong = !d.allowed;
      } else if (r == "EPERM") {
        ++d.eperm;
        wrong = d.allowed;
      } else if (r == "hung") {
        ++d.hung;
        wrong = true;
      } else {
        ++d.other;
        wrong = true;
      }
      if (wrong) {
        ++d.wrong;
        wrongs.push_back({&d, r, (seconds(CLOCK_MONOTONIC) - start) * 1e3, seconds(CLOCK_REALTIME)});
      }
    }
    if (pause_us > 0) usleep(static_cast<useconds_t>(pause_us));
  }
  long total = 0, wrong = 0;
  for (const auto& d : dests) {
    std::printf("dest %s %s connects %ld allowed %ld eperm %ld hung %ld other %ld wrong %ld\n",
                d.allowed ? "allow" : "deny", d.text.c_str(), d.connects, d.ok, d.eperm, d.hung, d.other, d.wrong);
    total += d.connects;
    wrong += d.wrong;
  }
  for (const auto& w : wrongs) {
    std::printf("wrong %s %s %s at %.3f ms (unix %.3f)\n", w.dest->allowed ? "allow" : "deny", w.dest->text.c_str(),
                w.result.c_str(), w.at_ms, w.unix_s);
  }
  std::printf("total connects %ld wrong %ld\n", total, wrong);
  return 0;
}
