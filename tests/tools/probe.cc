// egressd_probe: one connect() or sendto() and the errno name it got, so
// tests and the demo can tell "denied by egressd" (EPERM) from "nobody
// listening" (ECONNREFUSED) or success.
//   egressd_probe connect IP PORT [--v4mapped]   TCP connect (AF_INET6 socket for IPv6 or --v4mapped)
//   egressd_probe sendto IP PORT [--v4mapped]    one unconnected UDP datagram
//   egressd_probe udpconnect IP PORT             connect() a UDP socket, then send() one datagram
//                                                (a connected UDP socket is held at its sends)
//   egressd_probe peername IP PORT [--v4mapped]  TCP connect, then print getpeername() ("IP PORT")
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

int usage() {
  std::fprintf(stderr, "usage: egressd_probe connect|sendto|udpconnect IP PORT [--v4mapped]\n");
  return 2;
}

const char* errnoName(int err) {
  switch (err) {
    case 0: return "ok";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EINPROGRESS: return "ETIMEDOUT";  // SO_SNDTIMEO expired during connect()
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    default: return strerrorname_np(err);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return usage();
  const std::string op = argv[1], ip = argv[2];
  const int port = std::stoi(argv[3]);
  const bool v4mapped = argc > 4 && std::string(argv[4]) == "--v4mapped";

  sockaddr_storage addr{};
  socklen_t len = 0;
  in_addr v4{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1 && !v4mapped) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&addr);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr = v4;
    len = sizeof(*sin);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&addr);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::string text = (inet_pton(AF_INET, ip.c_str(), &v4) == 1) ? "::ffff:" + ip : ip;
    if (inet_pton(AF_INET6, text.c_str(), &sin6->sin6_addr) != 1) return usage();
    len = sizeof(*sin6);
  }

  const bool tcp = op == "connect" || op == "peername";
  if (!tcp && op != "sendto" && op != "udpconnect") return usage();
  int fd = socket(addr.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (fd < 0) {
    std::printf("%s\n", errnoName(errno));
    return 1;
  }
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  int rc = 0;
  if (op == "sendto") {
    rc = static_cast<int>(sendto(fd, "probe", 5, 0, reinterpret_cast<sockaddr*>(&addr), len));
  } else {
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
    if (rc == 0 && op == "udpconnect") rc = static_cast<int>(send(fd, "probe", 5, 0));
  }
  const int err = rc < 0 ? errno : 0;
  if (err == 0 && op == "peername") {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    char text[INET6_ADDRSTRLEN] = "?";
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) return std::printf("%s\n", errnoName(errno)), 1;
    const bool is4 = peer.ss_family == AF_INET;
    const auto* p4 = reinterpret_cast<const sockaddr_in*>(&peer);
    const auto* p6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    inet_ntop(peer.ss_family, is4 ? static_cast<const void*>(&p4->sin_addr) : &p6->sin6_addr, text, sizeof(text));
    std::printf("%s %d\n", text, ntohs(is4 ? p4->sin_port : p6->sin6_port));
    close(fd);
    return 0;
  }
  close(fd);
  std::printf("%s\n", errnoName(err));
  return err == 0 ? 0 : 1;
}
