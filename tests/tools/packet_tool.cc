// egressd_packet: traffic that never passes the socket hooks, for the TC
// backstop's tests, and a sink that counts what arrives.
//   egressd_packet raw IP PORT COUNT SIZE
//       COUNT UDP datagrams of SIZE payload bytes from a raw IPv4 socket
//   egressd_packet packet IFNAME DST_MAC SRC_IP IP PORT COUNT SIZE
//       the same as Ethernet frames from an AF_PACKET socket on IFNAME
//   egressd_packet sink IP PORT SECONDS
//       counts UDP datagrams to IP:PORT for SECONDS; prints "DATAGRAMS BYTES"
//   egressd_packet echo IP PORT SECONDS
//       answers each UDP datagram to IP:PORT with the same bytes, for SECONDS
//   egressd_packet tcpecho IP PORT
//       accepts one TCP connection on IP:PORT, echoes what it reads once
//   egressd_packet ask IP PORT [udp|tcp [FROM_IP:FROM_PORT]]
//       one UDP datagram (or a TCP connection and a line) to IP:PORT, from
//       FROM if given; prints "reply" or "timeout" (1 s)
// Prints "sent N" or the errno name.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: egressd_packet raw IP PORT COUNT SIZE\n"
               "       egressd_packet packet IFNAME DST_MAC SRC_IP IP PORT COUNT SIZE\n"
               "       egressd_packet sink|echo IP PORT SECONDS\n"
               "       egressd_packet tcpecho IP PORT\n"
               "       egressd_packet ask IP PORT [udp|tcp [FROM_IP:FROM_PORT]]\n");
  return 2;
}

int failed(const char* what) {
  std::printf("%s\n", strerrorname_np(errno));
  std::fprintf(stderr, "%s: %s\n", what, std::strerror(errno));
  return 1;
}

uint16_t ipChecksum(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (p[i] << 8) | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

// UDP header + payload (checksum 0: optional over IPv4).
std::vector<uint8_t> udpDatagram(int port, int size) {
  std::vector<uint8_t> out(sizeof(udphdr) + size, 'x');
  udphdr udp{};
  udp.source = htons(40000);
  udp.dest = htons(port);
  udp.len = htons(static_cast<uint16_t>(out.size()));
  std::memcpy(out.data(), &udp, sizeof(udp));
  return out;
}

int sendRaw(const char* ip, int port, int count, int size) {
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
  if (fd < 0) return failed("socket(AF_INET, SOCK_RAW)");
  sockaddr_in to{};
  to.sin_family = AF_INET;
  if (inet_pton(AF_INET, ip, &to.sin_addr) != 1) return usage();
  const auto datagram = udpDatagram(port, size);
  for (int i = 0; i < count; ++i)
    if (sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0)
      return failed("sendto");
  std::printf("sent %d\n", count);
  return 0;
}

int sendPacket(const char* ifname, const char* mac, const char* src, const char* ip, int port, int count, int size) {
  int fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));  // the kernel adds the Ethernet header
  if (fd < 0) return failed("socket(AF_PACKET)");
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_IP);
  to.sll_ifindex = static_cast<int>(if_nametoindex(ifname));
  to.sll_halen = ETH_ALEN;
  if (!to.sll_ifindex) return failed("if_nametoindex");
  if (std::sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &to.sll_addr[0], &to.sll_addr[1], &to.sll_addr[2],
                  &to.sll_addr[3], &to.sll_addr[4], &to.sll_addr[5]) != 6)
    return usage();
  const auto datagram = udpDatagram(port, size);
  iphdr iph{};
  iph.version = 4;
  iph.ihl = 5;
  iph.ttl = 64;
  iph.protocol = IPPROTO_UDP;
  iph.tot_len = htons(static_cast<uint16_t>(sizeof(iph) + datagram.size()));
  if (inet_pton(AF_INET, src, &iph.saddr) != 1 || inet_pton(AF_INET, ip, &iph.daddr) != 1) return usage();
  iph.check = ipChecksum(&iph, sizeof(iph));
  std::vector<uint8_t> packet(sizeof(iph));
  std::memcpy(packet.data(), &iph, sizeof(iph));
  packet.insert(packet.end(), datagram.begin(), datagram.end());
  for (int i = 0; i < count; ++i)
    if (sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0)
      return failed("sendto");
  std::printf("sent %d\n", count);
  return 0;
}

bool parseV4(const char* ip, int port, sockaddr_in& out) {
  out = {};
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  return inet_pton(AF_INET, ip, &out.sin_addr) == 1;
}

// sink counts what arrives; echo also answers it.
int serve(const char* ip, int port, int seconds, bool answer) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return failed("socket");
  sockaddr_in at{};
  if (!parseV4(ip, port, at)) return usage();
  if (bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof(at)) != 0) return failed("bind");
  std::fprintf(stderr, "listening\n");
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  long datagrams = 0, bytes = 0;
  char buf[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    sockaddr_in from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) continue;
    ++datagrams, bytes += n;
    if (answer) sendto(fd, buf, n, 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
  std::printf("%ld %ld\n", datagrams, bytes);
  return 0;
}

int tcpEcho(const char* ip, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in at{};
  if (fd < 0) return failed("socket");
  if (!parseV4(ip, port, at)) return usage();
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof(at)) != 0 || listen(fd, 1) != 0) return failed("listen");
  int conn = accept(fd, nullptr, nullptr);
  if (conn < 0) return failed("accept");
  char buf[256];
  const ssize_t n = recv(conn, buf, sizeof(buf), 0);
  if (n > 0) send(conn, buf, n, 0);
  close(conn);
  return 0;
}

int ask(const char* ip, int port, bool tcp, const std::string& from) {
  int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (fd < 0) return failed("socket");
  sockaddr_in to{};
  if (!parseV4(ip, port, to)) return usage();
  if (!from.empty()) {
    const auto colon = from.rfind(':');
    sockaddr_in local{};
    if (colon == std::string::npos || !parseV4(from.substr(0, colon).c_str(), std::stoi(from.substr(colon + 1)), local))
      return usage();
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return failed("bind");
  }
  timeval timeout{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (tcp && connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) return failed("connect");
  if (sendto(fd, "ping", 4, 0, tcp ? nullptr : reinterpret_cast<sockaddr*>(&to), tcp ? 0 : sizeof(to)) < 0)
    return failed("send");
  pollfd p{fd, POLLIN, 0};
  char buf[64];
  const bool replied = poll(&p, 1, 1000) > 0 && recv(fd, buf, sizeof(buf), 0) > 0;
  std::printf("%s\n", replied ? "reply" : "timeout");
  return replied ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string op = argv[1];
  if (op == "raw" && argc == 6) return sendRaw(argv[2], std::stoi(argv[3]), std::stoi(argv[4]), std::stoi(argv[5]));
  if (op == "packet" && argc == 9)
    return sendPacket(argv[2], argv[3], argv[4], argv[5], std::stoi(argv[6]), std::stoi(argv[7]), std::stoi(argv[8]));
  if ((op == "sink" || op == "echo") && argc == 5)
    return serve(argv[2], std::stoi(argv[3]), std::stoi(argv[4]), op == "echo");
  if (op == "tcpecho" && argc == 4) return tcpEcho(argv[2], std::stoi(argv[3]));
  if (op == "ask" && argc >= 4 && argc <= 6)
    return ask(argv[2], std::stoi(argv[3]), argc >= 5 && std::string(argv[4]) == "tcp", argc == 6 ? argv[5] : "");
  return usage();
}
