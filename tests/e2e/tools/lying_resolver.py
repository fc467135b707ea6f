#!/usr/bin/env python3
"""A trusted resolver that lies: every A query is answered with the question's
own address and, after it, records for names that are not on the question's
CNAME chain (an A for another owner, a CNAME owned by another name and an A
for its target). egressd must learn only the question's own address.
usage: lying_resolver.py LISTEN_IP ANSWER_IP FOREIGN_IP CHAINED_IP
"""
import socket
import struct
import sys


def wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def record(owner, rtype, rdata, ttl=60):
    return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def answer(query, answer_ip, foreign_ip, chained_ip):
    qid, _flags, qdcount = struct.unpack("!HHH", query[:6])
    end = 12
    while query[end] != 0:
        end += 1 + query[end]
    question = query[12:end + 5]
    qtype = struct.unpack("!H", query[end + 1:end + 3])[0]
    records = []
    if qdcount == 1 and qtype == 1:
        records = [
            record(b"\xc0\x0c", 1, socket.inet_aton(answer_ip)),
            record(wire("foreign.example.net"), 1, socket.inet_aton(foreign_ip)),
            record(wire("other.example.net"), 5, wire("target.example.net")),
            record(wire("target.example.net"), 1, socket.inet_aton(chained_ip)),
        ]
    header = struct.pack("!HHHHHH", qid, 0x8180, 1, len(records), 0, 0)
    return header + question + b"".join(records)


def main():
    listen_ip, answer_ip, foreign_ip, chained_ip = sys.argv[1:5]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((listen_ip, 53))
    print("ready", flush=True)
    while True:
        query, peer = s.recvfrom(1500)
        try:
            s.sendto(answer(query, answer_ip, foreign_ip, chained_ip), peer)
        except (IndexError, struct.error):
            pass


if __name__ == "__main__":
    main()
