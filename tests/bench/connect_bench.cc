// connect_bench: the cost of connect() as a workload sees it. Runs N
// connect() calls on fresh UDP sockets (no packet is sent, so the syscall and
// the cgroup hooks are all that is measured) and prints ns per call. The
// benchmark script runs it inside a workload cgroup (hooks attached) and in a
// cgroup outside --cgroup-root (no hooks), interleaved, in one run.
// With "tcp": non-blocking TCP sockets (EINPROGRESS counts as done: the
// hooks ran and one SYN left), the only mode a gateway redirect applies to.
//   connect_bench IP PORT N [tcp]
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: connect_bench IP PORT N [tcp]\n");
    return 2;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) return 2;
  const long n = std::stol(argv[3]);
  const bool tcp = argc == 5 && std::string(argv[4]) == "tcp";
  long denied = 0;
  // Socket creation and close are outside the timed region: only connect().
  std::chrono::nanoseconds total{0};
  for (long i = 0; i < n; ++i) {
    int fd = tcp ? socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0) : socket(AF_INET, SOCK_DGRAM, 0);
    auto start = std::chrono::steady_clock::now();
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    total += std::chrono::steady_clock::now() - start;
    if (rc < 0 && !(tcp && errno == EINPROGRESS)) ++denied;
    close(fd);
  }
  std::printf("%.1f ns/connect (%ld calls, %ld failed)\n", static_cast<double>(total.count()) / n, n, denied);
  return 0;
}
