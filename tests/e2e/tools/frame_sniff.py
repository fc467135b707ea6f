#!/usr/bin/env python3
"""Counts IPv4 frames on an interface whose payload carries MARK, whatever the
host's stack then does with them (AF_PACKET sees them before IP does: a
source-routed packet the host would drop still arrived). Says "listening"
on stderr, counts until SIGTERM or SECONDS, prints the count.
usage: frame_sniff.py IFACE SECONDS MARK
"""
import select
import signal
import socket
import sys
import time


def main():
    iface, seconds, mark = sys.argv[1], float(sys.argv[2]), sys.argv[3].encode()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((iface, 0))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("listening", file=sys.stderr, flush=True)
    count, end = 0, time.time() + seconds
    while not stop and time.time() < end:
        ready, _, _ = select.select([s], [], [], 0.1)
        if ready:
            frame, addr = s.recvfrom(65535)
            if addr[2] != socket.PACKET_OUTGOING and mark in frame:
                count += 1
    print(count)


if __name__ == "__main__":
    main()
