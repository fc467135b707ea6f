#!/usr/bin/env python3
"""Forges a DNS-over-TCP answer into the workload's own connection.

usage: tcp_dns_forge.py RESOLVER NAME FORGED_IP GATEWAY_MAC [IFNAME]

Opens a real TCP connection to RESOLVER:53, then, from an AF_PACKET socket on
IFNAME (default eth0), sends the node's router a frame "from" RESOLVER:53 to
the connection's own address and port: a segment at a sequence number the
forger doesn't know, carrying an answer for NAME with A FORGED_IP. The router
routes it back to the pod (hairpin), so it arrives on eth0 as a unicast to
the connection's socket. Then sends a real query for NAME on the connection
and reads the resolver's answer. Prints "frame:sent" (or the errno name) and
"answer:yes|no".
"""
import errno
import random
import socket
import struct
import sys


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def question(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00" + struct.pack("!HH", 1, 1)


def main():
    resolver, name, forged_ip, mac = sys.argv[1:5]
    ifname = sys.argv[5] if len(sys.argv) > 5 else "eth0"
    qid = random.randrange(1, 65535)
    c = socket.create_connection((resolver, 53), timeout=3)
    my_ip, my_port = c.getsockname()

    answer = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question(name)
    answer += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(forged_ip)
    payload = struct.pack("!H", len(answer)) + answer
    src, dst = socket.inet_aton(resolver), socket.inet_aton(my_ip)
    seq = random.randrange(0, 1 << 32)
    tcp = struct.pack("!HHIIBBHHH", 53, my_port, seq, 1, 5 << 4, 0x18, 65535, 0, 0) + payload
    csum = checksum(src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, socket.IPPROTO_TCP, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    p = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    try:
        p.sendto(ip + tcp, (ifname, 0x0800, 0, 0, bytes.fromhex(mac.replace(":", ""))))
        sent = "sent"
    except OSError as e:
        sent = errno.errorcode.get(e.errno, str(e.errno))

    import time
    time.sleep(0.3)  # the hairpinned segment is in (the kernel drops it: out of window)
    query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question(name)
    c.sendall(struct.pack("!H", len(query)) + query)
    try:
        got = "yes" if len(c.recv(4096)) > 2 else "no"
    except socket.timeout:
        got = "no"
    print(f"frame:{sent} answer:{got}")


if __name__ == "__main__":
    main()
