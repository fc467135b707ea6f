#!/usr/bin/env python3
"""A prober for scripts/bench/kube_scale.sh, run inside a pod's cgroup and
network namespace. One command a line on stdin, one answer a line on stdout:

  wait IP PORT   checks that a UDP datagram to IP:PORT is denied (EPERM, the
                 agent's verdict), answers "armed", then sends every 0.2 ms
                 until one is let out and answers the wall-clock time of that
                 first success, in ns (time.time_ns, as the script's clock).
                 "allowed-already" if the first one was let out; "timeout"
                 when the time is up.
  check IP PORT  one datagram: "ok" or the errno name.
  timeout S      how long "wait" waits (default 10 s); no answer.

The datagrams go to documentation or private addresses the lab's other end
drops; nothing leaves the machine.
"""
import errno
import socket
import sys
import time


def send(sock, ip, port):
    try:
        sock.sendto(b"x", (ip, port))
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    timeout = 10.0
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "timeout":
            timeout = float(words[1])
            continue
        if len(words) != 3:
            print("error: expected 'wait|check IP PORT'", flush=True)
            continue
        cmd, ip, port = words[0], words[1], int(words[2])
        if cmd == "check":
            print(send(sock, ip, port), flush=True)
            continue
        first = send(sock, ip, port)
        if first == "ok":
            print("allowed-already", flush=True)
            continue
        print("armed", flush=True)
        deadline = time.monotonic() + timeout
        while True:
            if send(sock, ip, port) == "ok":
                print(time.time_ns(), flush=True)
                break
            if time.monotonic() > deadline:
                print("timeout", flush=True)
                break
            time.sleep(0.0002)


if __name__ == "__main__":
    main()
