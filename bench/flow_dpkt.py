"""The peer for ``fastpath flows``: the same job written with dpkt.

Reads a pcap with dpkt, decodes Ethernet (with VLAN tags), IPv4/IPv6, TCP/UDP/ICMP, maps every
packet to its bidirectional 5-tuple and writes one conn.log-like line per connection: first
time, duration, originator (first sender) and responder, per-direction packets, IP bytes and
payload bytes, a history of the TCP letters S H A D F R once per direction, and a conn_state
from the flags seen. It does less than fastpath -- no window tracking, no timeouts or record
boundaries, no checksums, no tunnels, no gap detection -- so its time is a lower bound for the
same job in Python.
"""
import dpkt

_ETH_IP = (dpkt.ip.IP, dpkt.ip6.IP6)


def _state(proto, hist, pkts):
    if proto == 17:
        return "SF" if pkts[0] and pkts[1] else ("S0" if pkts[0] else "SHR")
    if proto != 6:
        return "OTH"
    if "r" in hist:
        return "REJ" if "h" not in hist else "RSTR"
    if "R" in hist:
        return "RSTO" if "h" in hist else "RSTOS0"
    if "F" in hist and "f" in hist:
        return "SF"
    if "S" in hist and "h" not in hist:
        return "S0"
    if "S" in hist and "h" in hist:
        return "S1"
    return "OTH"


def dpkt_conn_log(path, out):
    """Write the connection lines of ``path`` to the text file ``out``; returns how many."""
    flows = {}
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            try:
                eth = dpkt.ethernet.Ethernet(buf)
            except (dpkt.dpkt.UnpackError, IndexError, ValueError):
                continue
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP):
                if ip.offset:
                    continue                    # not the first fragment: no ports
                iplen = ip.len
            elif isinstance(ip, dpkt.ip6.IP6):
                iplen = ip.plen + 40
            else:
                continue
            p = ip.p
            l4 = ip.data
            sport = dport = flags = plen = 0
            if p == 6 and isinstance(l4, dpkt.tcp.TCP):
                sport, dport, flags, plen = l4.sport, l4.dport, l4.flags, len(l4.data)
            elif p == 17 and isinstance(l4, dpkt.udp.UDP):
                sport, dport, plen = l4.sport, l4.dport, max(0, l4.ulen - 8)
            elif p in (1, 58) and isinstance(l4, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
                sport, dport, plen = l4.type, l4.code, max(0, len(bytes(l4)) - 8)
            a = (ip.src, sport)
            b = (ip.dst, dport)
            key = (a, b, p) if a <= b else (b, a, p)
            fl = flows.get(key)
            if fl is None:
                # first, last, originator, pkts[2], ip bytes[2], payload[2], history
                fl = flows[key] = [ts, ts, a, [0, 0], [0, 0], [0, 0], []]
            fl[1] = ts
            d = 0 if a == fl[2] else 1
            fl[3][d] += 1
            fl[4][d] += iplen
            fl[5][d] += plen
            if p == 6:
                if flags & dpkt.tcp.TH_SYN:
                    letter = "H" if flags & dpkt.tcp.TH_ACK else "S"
                elif flags & dpkt.tcp.TH_RST:
                    letter = "R"
                elif flags & dpkt.tcp.TH_FIN:
                    letter = "F"
                elif plen:
                    letter = "D"
                elif flags & dpkt.tcp.TH_ACK:
                    letter = "A"
                else:
                    letter = None
                if letter:
                    if d:
                        letter = letter.lower()
                    if letter not in fl[6]:
                        fl[6].append(letter)
    names = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}
    n = 0
    for key, fl in sorted(flows.items(), key=lambda kv: kv[1][0]):
        (a, b, p) = key
        orig = fl[2]
        resp = b if orig == a else a
        hist = "".join(fl[6])
        oh = _ntop(orig[0])
        rh = _ntop(resp[0])
        out.write(f"{fl[0]:.6f}\t{oh}\t{orig[1]}\t{rh}\t{resp[1]}\t{names.get(p, 'unknown_transport')}"
                  f"\t{fl[1] - fl[0]:.6f}\t{fl[5][0]}\t{fl[5][1]}\t{_state(p, hist, fl[3])}\t{hist or '-'}"
                  f"\t{fl[3][0]}\t{fl[4][0]}\t{fl[3][1]}\t{fl[4][1]}\n")
        n += 1
    return n


def _ntop(raw):
    import socket
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)
