"""tshark-compatible display fields computed from parsed records.

A packet is parsed at several *levels*: level 0 is the frame; each further level is the packet
found inside the previous one (an IP header quoted by an ICMP error, an IP-in-IP / GRE / VXLAN /
Teredo payload). tshark lists a field once per header it dissected, outermost first; so does
``extract``: per field and packet, the values of every level where that header exists.

Every extractor works column-wise on a whole level (numpy masks and arrays), so formatting costs
a few operations per field and chunk rather than per packet.
"""
import ipaddress

import numpy as np

from fastpath.wire import record as R
from fastpath.wire.parse import parse_frames

MAX_LEVELS = 8      # the corpus nests IPv6 in IPv6 six deep


class Level:
    """One level of a chunk: records, which rows exist at this level, and the raw bytes."""

    __slots__ = ("recs", "present", "data", "base")

    def __init__(self, recs, present, data, base):
        self.recs = recs
        self.present = present
        self.data = data        # numpy uint8 view of the chunk buffer
        self.base = base

    def byte_at(self, offsets):
        """The byte at frame offset ``offsets`` (array) of each row, where in the buffer."""
        pos = self.recs["data_off"].astype(np.int64) - self.base + offsets.astype(np.int64)
        ok = (pos >= 0) & (pos < len(self.data))
        out = np.zeros(len(pos), dtype=np.uint8)
        out[ok] = self.data[pos[ok]]
        return out

    def be16_at(self, offsets):
        return (self.byte_at(offsets).astype(np.uint16) << 8) | self.byte_at(offsets + 1)

    def byte_at_rows(self, offsets, mask):
        """Like byte_at, for the rows in ``mask`` only (``offsets`` has one entry per such row)."""
        pos = (self.recs["data_off"][mask].astype(np.int64) - self.base + offsets.astype(np.int64))
        ok = (pos >= 0) & (pos < len(self.data))
        out = np.zeros(len(pos), dtype=np.uint8)
        out[ok] = self.data[pos[ok]]
        return out

    def be16_at_rows(self, offsets, mask):
        return ((self.byte_at_rows(offsets, mask).astype(np.int64) << 8) |
                self.byte_at_rows(offsets + 1, mask))

    def avail(self, start):
        """Bytes captured from frame offset ``start`` on (0 where start is OFF_NONE)."""
        st = start.astype(np.int64)
        out = self.recs["caplen"].astype(np.int64) - st
        out[start == R.OFF_NONE] = 0
        return np.maximum(out, 0)


def build_levels(buf, recs, base, verify_checksums):
    """Level 0 is ``recs``; deeper levels are parsed from each row's inner packet."""
    data = np.frombuffer(buf, dtype=np.uint8) if not isinstance(buf, np.ndarray) else buf.view(np.uint8).reshape(-1)
    levels = [Level(recs, np.ones(len(recs), dtype=bool), data, base)]
    cur = recs
    present = levels[0].present
    for _ in range(MAX_LEVELS - 1):
        has = present & (cur["inner_kind"] != R.INNER_NONE) & (cur["inner_off"] != R.OFF_NONE)
        if not has.any():
            break
        idx = np.zeros(len(cur), dtype=R.FRAME_DTYPE)
        inner_off = np.where(has, cur["inner_off"], 0).astype(np.uint64)
        idx["data_off"] = cur["data_off"] + inner_off
        idx["caplen"] = np.where(has, cur["caplen"].astype(np.int64) - inner_off.astype(np.int64), 0)
        # A tunnelled packet is as long as what carries it. A quoted one is marked with the
        # wire length QUOTED_WIRELEN: the parser then ends it where the quote ends, and the
        # renderer follows tshark's error-packet rules.
        idx["wirelen"] = np.where(cur["inner_kind"] == R.INNER_ICMP_QUOTE, R.QUOTED_WIRELEN,
                                  np.maximum(cur["wirelen"].astype(np.int64) - inner_off.astype(np.int64), 0))
        eth_inside = np.isin(cur["inner_kind"], R.INNER_ETHERNET_KINDS)
        # IP-in-IP names its payload by protocol number: 41 is IPv6 (another version is a bad
        # IPv6 header), 4 is IPv4 (a bad version is a bad IPv4 header), as tshark shows them.
        ipip = cur["inner_kind"] == R.INNER_IP_IN_IP
        lt = np.where(eth_inside, R.LINKTYPE_ETHERNET, R.LINKTYPE_RAW)
        lt = np.where(ipip & (cur["ip_proto"] == R.IPPROTO_IPIP), R.LINKTYPE_IPV4, lt)
        lt = np.where(ipip & (cur["ip_proto"] == R.IPPROTO_IPV6), R.LINKTYPE_IPV6, lt)
        idx["linktype"] = lt
        idx["ts_ns"] = cur["ts_ns"]
        inner = parse_frames(buf, idx, base, verify_checksums)
        levels.append(Level(inner, has, data, base))
        cur = inner
        present = has
    return levels


# ---------------------------------------------------------------- value formatting

def _dec(a):
    return a.astype(np.int64).astype(str).astype(object)


def _hex4(a):
    return np.array([f"0x{int(v):04x}" for v in a], dtype=object)


def _ipv4(a):
    a = a.astype(np.uint32)
    parts = [((a >> s) & 0xFF).astype(str) for s in (24, 16, 8, 0)]
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + "." + p.astype(object)
    return out


def format_ipv6(raw):
    """tshark's (RFC 5952) text form; an IPv4-mapped address keeps its dotted tail."""
    a = ipaddress.IPv6Address(bytes(raw))
    if a.ipv4_mapped is not None:
        return f"::ffff:{a.ipv4_mapped}"
    return a.compressed


def _ipv6(rows):
    # Addresses repeat: format each distinct one once.
    rows = np.ascontiguousarray(rows, dtype=np.uint8).reshape(-1, 16)
    keys = rows.view(np.dtype((np.void, 16))).ravel()
    uniq, inverse = np.unique(keys, return_inverse=True)
    text = np.array([format_ipv6(bytes(u)) for u in uniq], dtype=object)
    return text[inverse.ravel()]


def _column(level, mask, values):
    """A full-length object column: ``values`` (for rows in mask) else None."""
    out = np.full(len(level.recs), None, dtype=object)
    if mask.any():
        out[mask] = values(mask)
    return out


# ---------------------------------------------------------------- layer presence

def _ipv4_mask(lv):
    r = lv.recs
    return lv.present & (r["ip_version"] == 4)


def _ipv6_mask(lv):
    r = lv.recs
    return lv.present & (r["ip_version"] == 6)


def _l3_bytes(lv):
    return lv.avail(lv.recs["l3_off"])


def _ipv4_field(min_bytes):
    # A truncated IPv4 header shows the fields that were captured.
    return lambda lv: _ipv4_mask(lv) & (_l3_bytes(lv) >= min_bytes)


def _ipv4_dst_mask(lv):
    # tshark looks through the options (for a source route, whose last hop is the real
    # destination) before it adds ip.dst: when the capture ends inside an option's type or
    # length byte, the destination is never shown.
    m = _ipv4_field(20)(lv)
    cap = _l3_bytes(lv)
    ihl = (lv.byte_at(lv.recs["l3_off"]).astype(np.int64) & 0x0F) * 4
    for i in np.flatnonzero(m & (ihl > 20) & (cap < ihl)):
        m[i] = _options_readable(lv, i, int(cap[i]), int(ihl[i]))
    return m


def _options_readable(lv, row, cap, ihl):
    start = int(lv.recs["data_off"][row]) - lv.base + int(lv.recs["l3_off"][row])
    opt = lv.data[start:start + min(cap, ihl)]
    i = 20
    if i >= len(opt):
        return False
    while i < len(opt):
        kind = int(opt[i])
        if kind == 0:           # end of option list
            return True
        if kind == 1:           # no-operation
            i += 1
            continue
        if i + 1 >= len(opt):
            return False
        length = int(opt[i + 1])
        if length < 2:
            return True
        if kind in (0x83, 0x89):
            # Loose / strict source route: its last address is read; the walk ends there.
            return i + length <= len(opt)
        i += length
    return True


def _l4_mask(lv, proto, min_bytes):
    r = lv.recs
    return (lv.present & (r["ip_version"] != 0) & (r["ip_proto"] == proto) &
            (r["l4_off"] != R.OFF_NONE) & (r["l4_avail"] >= min_bytes))


def _tcp(min_bytes):
    return lambda lv: _l4_mask(lv, R.IPPROTO_TCP, min_bytes)


def _udp(min_bytes):
    return lambda lv: _l4_mask(lv, R.IPPROTO_UDP, min_bytes)


def _icmp4(lv):
    # tshark adds type and code once it has read the checksum too (4 bytes).
    return _l4_mask(lv, R.IPPROTO_ICMP, 4) & (lv.recs["ip_version"] == 4)


# ---------------------------------------------------------------- the field catalogue
# name -> function(level) -> object column (str or None per row). A field that lists several
# values within one header (vlan.id) joins them with "\x1f"; extract() turns that into the
# user's aggregator.

def _f_eth_type(lv):
    r = lv.recs
    m = lv.present & (r["linktype"] == R.LINKTYPE_ETHERNET) & (r["eth_type"] != 0)
    return _column(lv, m, lambda m: _hex4(r["eth_type"][m]))


def _f_vlan_tags(stag):
    # tshark shows 802.1Q tags as vlan.*, 802.1ad service tags as ieee8021ad.*.
    def f(lv):
        r = lv.recs
        m = lv.present & (r["vlan_count"] > 0)

        def ids(m):
            out = []
            for tags, n, mask in zip(r["vlan"][m], r["vlan_count"][m], r["vlan_stag"][m]):
                vals = [str(int(tags[i])) for i in range(n) if bool(mask >> i & 1) == stag]
                out.append("\x1f".join(vals) if vals else None)
            return np.array(out, dtype=object)
        return _column(lv, m, ids)
    return f


def _simple(mask_fn, field, fmt):
    def f(lv):
        m = mask_fn(lv)
        return _column(lv, m, lambda m: fmt(lv.recs[field][m]))
    return f


def _f_csum(mask_fn, field):
    def f(lv):
        m = mask_fn(lv) & (lv.recs[field] != R.CSUM_NONE)
        return _column(lv, m, lambda m: _dec(lv.recs[field][m]))
    return f


def _f_udp_csum(lv):
    # No status for a datagram with an impossible length (its payload offset is unset).
    m = _udp(8)(lv) & (lv.recs["payload_off"] != R.OFF_NONE)
    return _column(lv, m, lambda m: _dec(lv.recs["csum_l4"][m]))


def _ipv6_field(min_bytes):
    return lambda lv: _ipv6_mask(lv) & (_l3_bytes(lv) >= min_bytes)


def _f_ipv6_addr(field, min_bytes):
    def f(lv):
        m = _ipv6_field(min_bytes)(lv)
        return _column(lv, m, lambda m: _ipv6(lv.recs[field][m]))
    return f


def _f_ipv6_nxt(lv):
    m = _ipv6_field(7)(lv)
    return _column(lv, m, lambda m: _dec(lv.byte_at(lv.recs["l3_off"].astype(np.int64) + 6)[m]))


def _f_tcp_opt(bit, field):
    def f(lv):
        m = _tcp(20)(lv) & ((lv.recs["tcp_opts"] & bit) != 0)
        return _column(lv, m, lambda m: _dec(lv.recs[field][m]))
    return f


def _f_arp_opcode(lv):
    r = lv.recs
    m = (lv.present & np.isin(r["l3_type"], (R.ETH_P_ARP, R.ETH_P_RARP)) &
         (r["l3_off"] != R.OFF_NONE) & (lv.avail(r["l3_off"]) >= 8))
    # Hardware type 19 is ATM ARP (RFC 2225), a different layout with no arp.opcode.
    m &= lv.be16_at(r["l3_off"].astype(np.int64)) != 19
    return _column(lv, m, lambda m: _dec(r["arp_op"][m]))


# ---------------------------------------------------------------- raw header fields

def _mac(rows):
    return np.array([":".join(f"{b:02x}" for b in r) for r in rows], dtype=object)


def _raw(layer, offset, width, fmt, mask_fn, min_bytes=None):
    """A field read from the frame: ``width`` bytes at ``offset`` into the header that starts
    at the record's ``layer`` offset (l3_off / l4_off), present where ``mask_fn`` says and at
    least ``min_bytes`` of that header were captured (default: the field's end)."""
    need = offset + width if min_bytes is None else min_bytes

    def f(lv):
        r = lv.recs
        start = r[layer].astype(np.int64)
        m = mask_fn(lv) & (r[layer] != R.OFF_NONE) & (lv.avail(r[layer]) >= need)

        def values(m):
            st = start[m] + offset
            data = np.stack([lv.byte_at_rows(st + k, m) for k in range(width)], axis=1)
            return fmt(data)
        return _column(lv, m, values)
    return f


def _be_int(data):
    v = np.zeros(len(data), dtype=np.int64)
    for k in range(data.shape[1]):
        v = (v << 8) | data[:, k]
    return v


def _dec_raw(data):
    return _dec(_be_int(data))


def _hex_raw(digits):
    return lambda data: np.array([f"0x{int(v):0{digits}x}" for v in _be_int(data)], dtype=object)


def _ip_header_mask(lv):
    # Any header the link layer called IP, whatever its version nibble says (tshark shows
    # ip.version for IPv6 and for bogus versions too).
    r = lv.recs
    return (lv.present & (r["l3_off"] != R.OFF_NONE) &
            np.isin(r["l3_type"], (R.ETH_P_IPV4, R.ETH_P_IPV6)))


def _ipv4_start_mask(lv):
    # A header whose version nibble is 4: tshark shows version and header length even when the
    # header turns out bogus.
    r = lv.recs
    return (lv.present & (r["l3_off"] != R.OFF_NONE) & (r["l3_type"] == R.ETH_P_IPV4) &
            ((lv.byte_at(r["l3_off"].astype(np.int64)) >> 4) == 4) & (lv.avail(r["l3_off"]) >= 1))


def _f_ip_version(lv):
    # The nibble of any IP header; an IPv4 parser that meets version 6 shows it, then IPv6
    # shows it again (tshark lists it twice).
    r = lv.recs
    m = _raw("l3_off", 0, 1, lambda d: _dec(d[:, 0] >> 4), _ip_header_mask)(lv)
    twice = (r["l3_type"] == R.ETH_P_IPV4) & (r["ip_version"] == 6)
    for i in np.flatnonzero(twice):
        if m[i] is not None:
            m[i] = m[i] + "\x1f" + m[i]
    return m


def _f_ip_len(lv):
    # The total length; 0 (segmentation offload) reads as the captured length, as in tshark.
    r = lv.recs
    m = _ipv4_start_mask(lv) & (lv.avail(r["l3_off"]) >= 4) & \
        ((lv.byte_at(r["l3_off"].astype(np.int64)) & 0x0F) >= 5)

    def values(m):
        off = r["l3_off"].astype(np.int64)[m]
        field = lv.be16_at_rows(off + 2, m)
        return _dec(np.where(field == 0, r["caplen"][m].astype(np.int64) - off, field))
    return _column(lv, m, values)


def _eth_mask(lv):
    r = lv.recs
    return lv.present & (r["linktype"] == R.LINKTYPE_ETHERNET) & (r["caplen"] >= 14)


def _eth_addr(offset):
    def f(lv):
        r = lv.recs
        m = _eth_mask(lv)
        return _column(lv, m, lambda m: _mac(np.stack(
            [lv.byte_at_rows(np.full(int(m.sum()), offset + k), m) for k in range(6)], axis=1)))
    return f


def _arp_mask(lv):
    r = lv.recs
    m = (lv.present & np.isin(r["l3_type"], (R.ETH_P_ARP, R.ETH_P_RARP)) &
         (r["l3_off"] != R.OFF_NONE) & (lv.avail(r["l3_off"]) >= 8))
    off = r["l3_off"].astype(np.int64)
    return m & (lv.be16_at(off) != 19)          # not ATM ARP (RFC 2225), another layout


def _arp_address(which, kind):
    """ARP sender/target hardware (MAC) or protocol (IPv4) address. The addresses sit at
    offsets that depend on the declared sizes (RFC 826); tshark names a hardware address a MAC
    for Ethernet / IEEE 802 hardware with 6-byte addresses, and a protocol address IPv4 for
    type 0x0800 (or AX.25 IP) with 4-byte addresses."""
    def f(lv):
        r = lv.recs
        off = r["l3_off"].astype(np.int64)
        hln = lv.byte_at(off + 4).astype(np.int64)
        pln = lv.byte_at(off + 5).astype(np.int64)
        if kind == "hw":
            m = _arp_mask(lv) & np.isin(lv.be16_at(off), (1, 6)) & (hln == 6)
            start = off + 8 + (0 if which == "src" else hln + pln)
            width = 6
        else:
            m = _arp_mask(lv) & np.isin(lv.be16_at(off + 2), (0x0800, 0x00CC)) & (pln == 4)
            start = off + 8 + (hln if which == "src" else 2 * hln + pln)
            width = 4
        # tshark fetches all four addresses before it shows any: the whole packet must be there.
        m &= (r["caplen"].astype(np.int64) >= off + 8 + 2 * hln + 2 * pln)

        def values(m):
            data = np.stack([lv.byte_at_rows(start[m] + k, m)
                             for k in range(width)], axis=1)
            return _mac(data) if kind == "hw" else _ipv4(_be_int(data))
        return _column(lv, m, values)
    return f


def _flag_bit(bit):
    return lambda data: _dec((data[:, 0] >> bit) & 1)


def _ip_frag_offset(data):
    return _dec(_be_int(data) & 0x1FFF)         # in 8-byte units, as tshark's field


def _tcp_hdr_len(data):
    return _dec((data[:, 0] >> 4) * 4)


def _f_tcp_len(lv):
    # tshark gives a segment length only for a whole packet (not a fragment) with a sane header.
    r = lv.recs
    m = (_tcp(20)(lv) & (r["error"] != R.ERR_BAD_LENGTH) &
         ((r["ip_flags"] & (R.IPF_FRAGMENT | R.IPF_NONFIRST)) == 0) &
         (r["wirelen"] != R.QUOTED_WIRELEN))          # nor for a header quoted in an ICMP error
    return _column(lv, m, lambda m: _dec(r["payload_len"][m]))


def _f_tcp_option_kinds(lv):
    r = lv.recs
    m = _tcp(21)(lv)

    def kinds(m):
        out = []
        for row in np.flatnonzero(m):
            l4 = int(r["l4_off"][row])
            start = int(r["data_off"][row]) - lv.base + l4
            avail = int(r["l4_avail"][row])
            hdr = lv.data[start:start + min(avail, 60)]
            doff = (int(hdr[12]) >> 4) * 4 if len(hdr) > 12 else 0
            vals = []
            i = 20
            after_eol = False
            while i < min(doff, len(hdr)):
                kind = int(hdr[i])
                if after_eol and kind != 0:
                    break               # after EOL tshark lists the zero padding, nothing more
                vals.append(str(kind))
                if kind in (0, 1):      # EOL and NOP are one byte
                    after_eol = after_eol or kind == 0
                    i += 1
                    continue
                if i + 1 >= len(hdr) or int(hdr[i + 1]) < 2:
                    break
                i += int(hdr[i + 1])
            out.append("\x1f".join(vals) if vals else None)
        return np.array(out, dtype=object)
    return _column(lv, m, kinds)


def _icmp6(lv):
    return _l4_mask(lv, R.IPPROTO_ICMPV6, 4) & (lv.recs["ip_version"] == 6)


def _sll_field(v1_offset, v2_offset, width, fmt, keep=None):
    """A field of the Linux cooked header, v1 (LINUX_SLL) or v2 (LINUX_SLL2), read from the
    start of the frame. ``keep(values)`` may drop rows (tshark names some values differently)."""
    def f(lv):
        r = lv.recs
        v1 = lv.present & (r["linktype"] == R.LINKTYPE_LINUX_SLL) & (r["caplen"] >= 16)
        v2 = lv.present & (r["linktype"] == R.LINKTYPE_LINUX_SLL2) & (r["caplen"] >= 20)
        m = v1 | v2
        off = np.where(v1, v1_offset, v2_offset)
        vals = np.zeros(len(r), dtype=np.int64)
        if m.any():
            b = [lv.byte_at_rows(off[m] + k, m).astype(np.int64) for k in range(width)]
            v = b[0]
            for x in b[1:]:
                v = (v << 8) | x
            vals[m] = v
        if keep is not None:
            m &= keep(lv, vals)
        return _column(lv, m, lambda m: fmt(vals[m]))
    return f


def _sll_is_etype(lv, proto):
    # The protocol field is sll.gretype for GRE devices (hatype 778) and sll.ltype below 0x0600.
    r = lv.recs
    v1 = r["linktype"] == R.LINKTYPE_LINUX_SLL
    hatype = np.where(v1, lv.be16_at(np.full(len(r), 2)), lv.be16_at(np.full(len(r), 8)))
    return (hatype != 778) & (proto >= 0x0600)


def _null_family(lv):
    r = lv.recs
    m = lv.present & (r["linktype"] == R.LINKTYPE_NULL) & (r["caplen"] >= 4)

    def fam(m):
        b = np.stack([lv.byte_at_rows(np.full(int(m.sum()), k), m) for k in range(4)], axis=1).astype(np.int64)
        le = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16) | (b[:, 3] << 24)
        be = b[:, 3] | (b[:, 2] << 8) | (b[:, 1] << 16) | (b[:, 0] << 24)
        return _dec(np.where((le & 0xFFFF) == 0, be, le))
    return _column(lv, m, fam)


FIELDS = {
    "eth.type": _f_eth_type,
    "vlan.id": _f_vlan_tags(False),
    "ieee8021ad.id": _f_vlan_tags(True),
    "ip.src": _simple(_ipv4_field(16), "ip4_src", _ipv4),
    "ip.dst": _simple(_ipv4_dst_mask, "ip4_dst", _ipv4),
    "ip.proto": _simple(_ipv4_field(10), "ip_proto", _dec),
    "ip.ttl": _simple(_ipv4_field(9), "ip_ttl", _dec),
    "ip.id": _simple(_ipv4_field(6), "ip_id", lambda a: _hex4(a)),
    "ip.checksum.status": _f_csum(_ipv4_field(12), "csum_ip"),
    "ipv6.src": _f_ipv6_addr("ip6_src", 24),
    "ipv6.dst": _f_ipv6_addr("ip6_dst", 40),
    "ipv6.nxt": _f_ipv6_nxt,
    "ipv6.hlim": _simple(_ipv6_field(8), "ip_ttl", _dec),
    # tshark reads ports, then everything through the window before it adds the rest.
    "tcp.srcport": _simple(_tcp(4), "sport", _dec),
    "tcp.dstport": _simple(_tcp(4), "dport", _dec),
    # In a header quoted by an ICMP (v4) error tshark gives tcp.seq (absolute), not
    # tcp.seq_raw; in one quoted by ICMPv6 it gives both.
    "tcp.seq_raw": _simple(lambda lv: _tcp(16)(lv) & ~((lv.recs["wirelen"] == R.QUOTED_WIRELEN) &
                                                       (lv.recs["ip_version"] == 4)),
                           "tcp_seq", _dec),
    "tcp.ack_raw": _simple(_tcp(16), "tcp_ack", _dec),
    "tcp.flags": _simple(_tcp(16), "tcp_flags", _hex4),
    "tcp.window_size_value": _simple(_tcp(16), "tcp_window", _dec),
    "tcp.options.mss_val": _f_tcp_opt(R.OPT_MSS, "tcp_mss"),
    "tcp.options.wscale.shift": _f_tcp_opt(R.OPT_WSCALE, "tcp_wscale"),
    "tcp.options.timestamp.tsval": _f_tcp_opt(R.OPT_TIMESTAMP, "tcp_tsval"),
    "tcp.options.timestamp.tsecr": _f_tcp_opt(R.OPT_TIMESTAMP, "tcp_tsecr"),
    "tcp.checksum.status": _f_csum(_tcp(18), "csum_l4"),
    "udp.srcport": _simple(_udp(4), "sport", _dec),
    "udp.dstport": _simple(_udp(4), "dport", _dec),
    "udp.checksum.status": _f_udp_csum,
    "icmp.type": _simple(_icmp4, "icmp_type", _dec),
    "icmp.code": _simple(lambda lv: _icmp4(lv) & (lv.recs["l4_avail"] >= 2), "icmp_code", _dec),
    "arp.opcode": _f_arp_opcode,
    # -- more of tshark's fields
    "eth.src": _eth_addr(6),
    "eth.dst": _eth_addr(0),
    "ip.version": _f_ip_version,
    "ip.hdr_len": _raw("l3_off", 0, 1, lambda d: _dec((d[:, 0] & 0x0F) * 4), _ipv4_start_mask),
    "ip.len": _f_ip_len,
    "ip.flags.df": _raw("l3_off", 6, 1, _flag_bit(6), _ipv4_mask),
    "ip.flags.mf": _raw("l3_off", 6, 1, _flag_bit(5), _ipv4_mask),
    "ip.frag_offset": _raw("l3_off", 6, 2, _ip_frag_offset, _ipv4_mask),
    "ip.checksum": _raw("l3_off", 10, 2, _hex_raw(4), _ipv4_mask),
    "ipv6.plen": _raw("l3_off", 4, 2, _dec_raw, _ipv6_mask),
    "tcp.hdr_len": _raw("l4_off", 12, 1, _tcp_hdr_len, lambda lv: _tcp(16)(lv), 16),
    "tcp.len": _f_tcp_len,
    "tcp.urgent_pointer": _raw("l4_off", 18, 2, _dec_raw, lambda lv: _tcp(20)(lv), 20),
    "tcp.checksum": _raw("l4_off", 16, 2, _hex_raw(4), lambda lv: _tcp(18)(lv), 18),
    "tcp.option_kind": _f_tcp_option_kinds,
    "udp.length": _raw("l4_off", 4, 2, _dec_raw, lambda lv: _udp(6)(lv), 6),
    "udp.checksum": _raw("l4_off", 6, 2, _hex_raw(4),
                         lambda lv: _udp(8)(lv) & (lv.recs["payload_off"] != R.OFF_NONE), 8),
    "icmp.checksum.status": _f_csum(_icmp4, "csum_l4"),
    "icmpv6.type": _simple(_icmp6, "icmp_type", _dec),
    "icmpv6.code": _simple(_icmp6, "icmp_code", _dec),
    "icmpv6.checksum.status": _f_csum(_icmp6, "csum_l4"),
    "arp.src.hw_mac": _arp_address("src", "hw"),
    "arp.src.proto_ipv4": _arp_address("src", "ip"),
    "arp.dst.hw_mac": _arp_address("dst", "hw"),
    "arp.dst.proto_ipv4": _arp_address("dst", "ip"),
    "null.family": _null_family,
}
FIELDS["sll.hatype"] = _sll_field(2, 8, 2, _dec)
FIELDS["sll.etype"] = _sll_field(14, 0, 2, _hex4, _sll_is_etype)

FRAME_FIELDS = ("frame.number", "frame.len", "frame.cap_len", "frame.time_epoch")


def known_fields():
    return sorted(set(FIELDS) | set(FRAME_FIELDS))


def frame_column(name, recs, first_number):
    n = len(recs)
    if name == "frame.number":
        return np.arange(first_number, first_number + n).astype(str).astype(object)
    if name == "frame.len":
        return _dec(recs["wirelen"])
    if name == "frame.cap_len":
        return _dec(recs["caplen"])
    if name == "frame.time_epoch":
        ts = recs["ts_ns"].astype(np.int64)
        return np.array([f"{t // 1_000_000_000}.{t % 1_000_000_000:09d}" for t in ts], dtype=object)
    raise KeyError(name)


# Checksum statuses that tshark reports as "unverified" unless its preference turns checking on
# (levels are parsed with verification on; the preference only decides what is shown).
CHECKSUM_STATUS_PREFS = {"ip.checksum.status": "ip.check_checksum",
                         "tcp.checksum.status": "tcp.check_checksum",
                         "udp.checksum.status": "udp.check_checksum"}


def _unverified(col):
    out = col.copy()
    for i, v in enumerate(out):
        if v in ("0", "1"):
            out[i] = "2"
    return out


# Fields that can hold several values within one header (joined with "\x1f" by extractors).
MULTI_VALUED = {"vlan.id", "ieee8021ad.id", "tcp.option_kind", "ip.version"}


def extract(names, levels, first_number=1, aggregator=",", occurrence="a", checks=None):
    """Per field in ``names``, a list (one entry per packet) of the display string -- the values
    of all levels joined with ``aggregator``, or filtered by ``occurrence`` ('a' all, 'f' first,
    'l' last, or a 1-based number) -- or "" when the packet has none.

    ``checks`` maps tshark's checksum preferences (ip/tcp/udp.check_checksum) to booleans;
    missing ones count as on, so statuses are reported as verified."""
    recs0 = levels[0].recs
    n = len(recs0)
    columns = []
    for name in names:
        if name in FRAME_FIELDS:
            columns.append(frame_column(name, recs0, first_number))
            continue
        fn = FIELDS[name]
        per_level = [fn(lv) for lv in levels]
        pref = CHECKSUM_STATUS_PREFS.get(name)
        if pref and checks is not None and not checks.get(pref, True):
            per_level = [_unverified(c) for c in per_level]
        col0 = per_level[0]
        present = np.not_equal(col0, None)
        out = np.full(n, "", dtype=object)
        out[present] = col0[present]
        # Rows with more than one value (deeper levels, or several in one header) are merged
        # one by one; the rest -- nearly all -- are done as whole columns.
        slow = np.zeros(n, dtype=bool)
        for lc in per_level[1:]:
            slow |= np.not_equal(lc, None)
        if name in MULTI_VALUED:
            idx = np.flatnonzero(present & ~slow)
            slow[idx[[("\x1f" in v) for v in col0[idx]]]] = True
        if occurrence not in ("a", "f", "l", "1"):
            out[present & ~slow] = ""      # a single value has no second occurrence
        for i in np.flatnonzero(slow):
            vals = []
            for lc in per_level:
                v = lc[i]
                if v is not None:
                    vals.extend(v.split("\x1f"))
            out[i] = _pick(vals, aggregator, occurrence)
        columns.append(out)
    return columns


def _pick(vals, aggregator, occurrence):
    if not vals:
        return ""
    if occurrence == "a":
        return aggregator.join(vals)
    if occurrence == "f":
        return vals[0]
    if occurrence == "l":
        return vals[-1]
    k = int(occurrence)
    return vals[k - 1] if 1 <= k <= len(vals) else ""
