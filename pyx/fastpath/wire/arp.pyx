"""ARP for Ethernet/IPv4 (RFC 826): C parse/emit and the Python ``ArpRepr``."""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

from fastpath.includes.byteorder cimport load_be16, load_be32, store_be16, store_be32
from fastpath.wire.record cimport ERR_TRUNCATED, ERR_BAD_LENGTH
from fastpath.wire._pyrepr cimport borrow_readable, borrow_writable, release, mac_bytes, parse_mac

import ipaddress
from fastpath.errors import MalformedPacketError


cdef Py_ssize_t arp_parse(const uint8_t* p, Py_ssize_t n, arp_repr_t* r) noexcept nogil:
    if n < 8:
        return -ERR_TRUNCATED
    r.htype = load_be16(p)
    r.ptype = load_be16(p + 2)
    r.op = load_be16(p + 6)
    if p[4] != 6 or p[5] != 4:
        return -ERR_BAD_LENGTH
    if n < ARP_LEN:
        return -ERR_TRUNCATED
    memcpy(r.sha, p + 8, 6)
    r.spa = load_be32(p + 14)
    memcpy(r.tha, p + 18, 6)
    r.tpa = load_be32(p + 24)
    return ARP_LEN


cdef Py_ssize_t arp_emit(uint8_t* p, Py_ssize_t cap, const arp_repr_t* r) noexcept nogil:
    if cap < ARP_LEN:
        return -1
    store_be16(p, r.htype)
    store_be16(p + 2, r.ptype)
    p[4] = 6
    p[5] = 4
    store_be16(p + 6, r.op)
    memcpy(p + 8, r.sha, 6)
    store_be32(p + 14, r.spa)
    memcpy(p + 18, r.tha, 6)
    store_be32(p + 24, r.tpa)
    return ARP_LEN


@cython.final
cdef class ArpRepr:
    """An Ethernet/IPv4 ARP packet (RFC 826)."""
    cdef public int op
    cdef public bytes sender_mac
    cdef public object sender_ip
    cdef public bytes target_mac
    cdef public object target_ip

    def __init__(self, int op, sender_mac, sender_ip, target_mac, target_ip):
        self.op = op
        self.sender_mac = parse_mac(sender_mac)
        self.sender_ip = ipaddress.IPv4Address(sender_ip)
        self.target_mac = parse_mac(target_mac)
        self.target_ip = ipaddress.IPv4Address(target_ip)

    @staticmethod
    def parse(data):
        cdef Py_buffer view
        cdef arp_repr_t r
        cdef Py_ssize_t n, size
        borrow_readable(data, &view)
        try:
            size = view.len
            n = arp_parse(<const uint8_t*>view.buf, size, &r)
        finally:
            release(&view)
        if n == -ERR_BAD_LENGTH:
            raise MalformedPacketError("ARP: only Ethernet (6-byte) / IPv4 (4-byte) addresses")
        if n < 0:
            raise MalformedPacketError(f"ARP: packet truncated ({size} bytes)")
        if r.htype != 1 or r.ptype != 0x0800:
            raise MalformedPacketError(f"ARP: hardware type {r.htype} / protocol {r.ptype:#06x} "
                                       f"is not Ethernet/IPv4")
        return ArpRepr(r.op, mac_bytes(r.sha), r.spa, mac_bytes(r.tha), r.tpa)

    def buffer_len(self):
        return ARP_LEN

    def emit(self, buf):
        cdef Py_buffer view
        cdef arp_repr_t r
        cdef Py_ssize_t n
        r.htype = 1
        r.ptype = 0x0800
        r.op = self.op
        memcpy(r.sha, <const char*>self.sender_mac, 6)
        memcpy(r.tha, <const char*>self.target_mac, 6)
        r.spa = int(self.sender_ip)
        r.tpa = int(self.target_ip)
        borrow_writable(buf, &view)
        try:
            n = arp_emit(<uint8_t*>view.buf, view.len, &r)
        finally:
            release(&view)
        if n < 0:
            raise ValueError("buffer too small for an ARP packet (28 bytes)")
        return n

    def to_bytes(self):
        out = bytearray(ARP_LEN)
        self.emit(out)
        return bytes(out)

    def __eq__(self, other):
        return (isinstance(other, ArpRepr) and
                (self.op, self.sender_mac, self.sender_ip, self.target_mac, self.target_ip) ==
                (other.op, other.sender_mac, other.sender_ip, other.target_mac, other.target_ip))

    def __repr__(self):
        return (f"ArpRepr(op={self.op}, sender={self.sender_mac.hex(':')}/{self.sender_ip}, "
                f"target={self.target_mac.hex(':')}/{self.target_ip})")
