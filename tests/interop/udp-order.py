#!/usr/bin/env python3
"""Per-flow order through a tunnel: FLOWS interleaved UDP flows of numbered datagrams.

  udp-order.py recv ADDR PORT FLOWS COUNT     prints "received N of M, reordered R", exits 1 on
                                              any reordering or when fewer than half arrived
  udp-order.py send ADDR PORT FLOWS COUNT [GAP_MS]   sends COUNT datagrams per flow, each flow from its
                                              own socket; with UDP_SEGMENT (USO) so the TUN hands
                                              the tunnel super-packets that it must split in order

Each datagram carries (flow, sequence); a flow is reordered when a sequence number arrives after
a higher one of the same flow.  Loss is reported, never reordering tolerated.
"""
import socket
import struct
import sys
import time

UDP_SEGMENT = 103
SEG = 1200  # fits the tunnel's 1420 MTU with IPv4 + UDP headers
BURST = 40  # datagrams per send: one super-packet of 40 segments


def recv(addr, port, flows, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE (root): past rmem_max
    s.bind((addr, port))
    s.settimeout(3)
    print("ready", flush=True)
    last = [-1] * flows
    got = reordered = 0
    while got < flows * count:
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        flow, seq = struct.unpack_from("!II", data)
        if flow >= flows or len(data) != SEG:
            print("bad datagram", flow, len(data))
            sys.exit(1)
        if seq <= last[flow]:
            reordered += 1
        last[flow] = max(last[flow], seq)
        got += 1
    print("received %d of %d, reordered %d" % (got, flows * count, reordered))
    sys.exit(1 if reordered or got < flows * count // 2 else 0)


def send(addr, port, flows, count, gap):
    socks = []
    for _ in range(flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, SEG)
        s.connect((addr, port))
        socks.append(s)
    pad = bytes(SEG - 8)
    for base in range(0, count, BURST):
        for flow, s in enumerate(socks):
            n = min(BURST, count - base)
            s.send(b"".join(struct.pack("!II", flow, base + i) + pad for i in range(n)))
        time.sleep(gap)  # default 0.5 ms: ~ 4 flows x 48 KB per ms, fast without overrunning


mode, addr, port, flows, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if mode == "recv":
    recv(addr, port, flows, count)
else:
    send(addr, port, flows, count, float(sys.argv[6]) / 1000 if len(sys.argv) > 6 else 0.0005)
