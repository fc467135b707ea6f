#!/usr/bin/env python3
"""Socket-level ways a workload tries to reach a destination, for the bypass
suite's case bypass_socket_attempts: each is one attempt, printing "ok" or
the errno name it got. The payload carries the mark "bypass-socket".

  socket_attempts.py FORM IP PORT [ARG]
    udp         sendto() on an unconnected UDP socket
    tcp         connect() (1 s), then send()
    tfo         TCP Fast Open: sendto(MSG_FASTOPEN), data in the SYN
    sendmmsg    two datagrams in one sendmmsg()
    pktinfo     sendmsg() with IP_PKTINFO (ARG: the source address to use)
    v4mapped    an AF_INET6 UDP socket to ::ffff:IP
    nat64       an AF_INET6 UDP socket to 64:ff9b::IP (RFC 6052 well-known prefix)
    mptcp       connect() on an IPPROTO_MPTCP socket
    bindtodevice  SO_BINDTODEVICE to ARG and bind() first, then sendto()
    uring-connect   connect() submitted through io_uring, then send()
    uring-sendmsg   sendmsg() submitted through io_uring
"""
import ctypes
import errno
import mmap
import socket
import struct
import sys

MARK = b"bypass-socket"
IPPROTO_MPTCP = 262
IP_PKTINFO = 8
libc = ctypes.CDLL(None, use_errno=True)


def name(e):
    return errno.errorcode.get(e, str(e))


class SockaddrIn(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("port", ctypes.c_uint16), ("addr", ctypes.c_uint8 * 4),
                ("zero", ctypes.c_uint8 * 8)]


class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.POINTER(Iovec)),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", Msghdr), ("len", ctypes.c_uint)]


def sockaddr_in(ip, port):
    a = SockaddrIn(socket.AF_INET, socket.htons(port))
    a.addr[:] = socket.inet_aton(ip)
    return a


def message(to, payload):
    """A msghdr to `to` with one buffer; keeps its parts alive on itself."""
    buf = ctypes.create_string_buffer(payload, len(payload))
    iov = Iovec(ctypes.cast(buf, ctypes.c_void_p), len(payload))
    hdr = Msghdr(ctypes.cast(ctypes.pointer(to), ctypes.c_void_p), ctypes.sizeof(to), ctypes.pointer(iov), 1,
                 None, 0, 0)
    hdr._keep = (buf, iov, to)
    return hdr


def uring(op, fd, ip, port):
    """One io_uring submission (connect or sendmsg) and its result."""
    params = ctypes.create_string_buffer(120)
    ring = libc.syscall(425, 4, params)  # io_uring_setup
    if ring < 0:
        return -ctypes.get_errno()
    p = struct.unpack_from("10I", params, 0)
    sq_entries, cq_entries = p[0], p[1]
    sq_off = struct.unpack_from("7I", params, 40)  # head tail mask entries flags dropped array
    cq_off = struct.unpack_from("6I", params, 80)  # head tail mask entries overflow cqes
    sq = mmap.mmap(ring, sq_off[6] + sq_entries * 4, offset=0)
    cq = mmap.mmap(ring, cq_off[5] + cq_entries * 16, offset=0x8000000)
    sqes = mmap.mmap(ring, sq_entries * 64, offset=0x10000000)
    to = sockaddr_in(ip, port)
    if op == "connect":  # IORING_OP_CONNECT: addr = sockaddr, off = its length
        sqe = struct.pack("BBHiQQIIQ", 16, 0, 0, fd, ctypes.sizeof(to), ctypes.addressof(to), 0, 0, 1)
    else:  # IORING_OP_SENDMSG: addr = msghdr, len = 1
        hdr = message(to, MARK)
        sqe = struct.pack("BBHiQQIIQ", 9, 0, 0, fd, 0, ctypes.addressof(hdr), 1, 0, 1)
    sqes[0:64] = sqe.ljust(64, b"\0")
    tail = struct.unpack_from("I", sq, sq_off[1])[0]
    mask = struct.unpack_from("I", sq, sq_off[2])[0]
    struct.pack_into("I", sq, sq_off[6] + 4 * (tail & mask), 0)
    struct.pack_into("I", sq, sq_off[1], tail + 1)
    if libc.syscall(426, ring, 1, 1, 1, None, 0) < 0:  # io_uring_enter, IORING_ENTER_GETEVENTS
        return -ctypes.get_errno()
    head = struct.unpack_from("I", cq, cq_off[0])[0]
    cmask = struct.unpack_from("I", cq, cq_off[2])[0]
    return struct.unpack_from("Qi", cq, cq_off[5] + 16 * (head & cmask))[1]


def attempt(form, ip, port, arg):
    if form in ("tcp", "tfo", "mptcp", "uring-connect"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP if form == "mptcp" else 0)
        # Blocking (a Python timeout makes the socket non-blocking, and a
        # Fast Open send then returns EINPROGRESS), bounded by SO_SNDTIMEO.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 1, 0))
        if form == "tfo":
            s.sendto(MARK, socket.MSG_FASTOPEN, (ip, port))
        elif form == "uring-connect":
            res = uring("connect", s.fileno(), ip, port)
            if res < 0:
                return name(-res)
            s.send(MARK)
        else:
            s.connect((ip, port))
            s.send(MARK)
        return "ok"
    if form == "v4mapped":
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(MARK, ("::ffff:" + ip, port))
        return "ok"
    if form == "nat64":
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(MARK, ("64:ff9b::" + ip, port))
        return "ok"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if form == "udp":
        s.sendto(MARK, (ip, port))
    elif form == "bindtodevice":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, arg.encode())
        s.bind(("0.0.0.0", 0))
        s.sendto(MARK, (ip, port))
    elif form == "pktinfo":
        info = struct.pack("i4s4s", 0, socket.inet_aton(arg), b"\0" * 4)
        s.sendmsg([MARK], [(socket.IPPROTO_IP, IP_PKTINFO, info)], 0, (ip, port))
    elif form == "sendmmsg":
        to = sockaddr_in(ip, port)
        first, second = message(to, MARK), message(to, MARK)  # alive until sent
        msgs = (Mmsghdr * 2)(Mmsghdr(first), Mmsghdr(second))
        if libc.sendmmsg(s.fileno(), msgs, 2, 0) < 0:
            return name(ctypes.get_errno())
    elif form == "uring-sendmsg":
        res = uring("sendmsg", s.fileno(), ip, port)
        return "ok" if res >= 0 else name(-res)
    else:
        sys.exit(__doc__)
    return "ok"


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    try:
        print(attempt(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) == 5 else ""))
    except socket.timeout:
        print("ETIMEDOUT")
    except OSError as e:
        print(name(e.errno))


if __name__ == "__main__":
    main()
