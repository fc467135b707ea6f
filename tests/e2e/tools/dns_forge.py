#!/usr/bin/env python3
"""Forges a DNS answer to its own pending query, as a hostile workload would.

Sends a real query for NAME to the trusted resolver on a connected UDP socket,
then from a raw socket an answer that claims to come from the resolver
(same id, same question, A FORGED_IP) to its own address: it loops back
inside the namespace. egressd must learn nothing from it. Prints what the
raw send did ("sent" or the errno name) and what the socket received first.
usage: dns_forge.py RESOLVER NAME FORGED_IP
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


def main():
    resolver, name, forged_ip = sys.argv[1:4]
    qid = random.randrange(1, 65535)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((resolver, 53))
    my_ip, my_port = s.getsockname()
    q = question(name)
    s.send(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q)

    answer = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q
    answer += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(forged_ip)
    udp = struct.pack("!HHHH", 53, my_port, 8 + len(answer), 0) + answer
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                     socket.inet_aton(resolver), socket.inet_aton(my_ip))
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        raw.sendto(ip + udp, (my_ip, 0))
        sent = "sent"
    except OSError as e:
        sent = errno.errorcode.get(e.errno, str(e.errno))
    s.settimeout(2)
    try:
        data = s.recv(2048)
        got = "forged" if forged_ip.encode() and socket.inet_aton(forged_ip) in data else "resolver"
    except socket.timeout:
        got = "nothing"
    print(f"raw:{sent} first:{got}")


if __name__ == "__main__":
    main()
