"""TAP, AF_PACKET and AF_XDP devices talk to a real kernel: an ARP request built with the wire
layer gets the kernel's ARP reply, an ICMP echo request gets the echo reply, and the replies
parse. The kernel answering is the peer namespace's (or, for TAP, the namespace owning it)."""
import os
import time

import pytest

from iosuite import kernel_skip_reason
from fastpath.wire.build import arp_request, icmp_echo
from fastpath.wire.parse import parse_frames

pytestmark = [pytest.mark.root, pytest.mark.netns]

OUR_MAC = b"\x02\xfa\x57\x0a\x00\x01"
OUR_IP = "10.201.0.200"


def wait_for(dev, predicate, timeout=3.0):
    """The first received frame (bytes, parsed record) for which predicate(record) holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with dev.recv(timeout=0.2) as b:
            if not b:
                continue
            recs = parse_frames(b.buffer, b.index)
            for i, r in enumerate(recs):
                if predicate(r):
                    return bytes(b.frame(i)), r
    return None, None


def exchange(dev, kernel_ip, kernel_mac=None):
    """ARP for kernel_ip, then ping it; returns the kernel's MAC and the parsed echo reply."""
    assert dev.send_frames([arp_request(OUR_MAC, OUR_IP, kernel_ip)]) == 1
    frame, rec = wait_for(dev, lambda r: r["l3_type"] == 0x0806 and r["arp_op"] == 2)
    assert frame is not None, "no ARP reply from the kernel"
    assert frame[0:6] == OUR_MAC                   # addressed to us
    assert frame[22:28] == frame[6:12]             # sender hardware address = its source MAC
    mac = frame[22:28]
    if kernel_mac is not None:
        assert mac == kernel_mac
    req = icmp_echo(OUR_IP, kernel_ip, 0x4242, 7, b"fastpath echo", ethernet=(OUR_MAC, mac))
    assert dev.send_frames([req]) == 1
    frame, rec = wait_for(dev, lambda r: r["ip_proto"] == 1 and r["icmp_type"] == 0)
    assert frame is not None, "no ICMP echo reply from the kernel"
    return mac, frame, rec


def check_reply(frame, rec, kernel_ip):
    import ipaddress
    assert rec["sport"] == 0x4242                  # echo identifier
    assert rec["ip4_src"] == int(ipaddress.ip_address(kernel_ip))
    assert rec["ip4_dst"] == int(ipaddress.ip_address(OUR_IP))
    assert frame.endswith(b"fastpath echo")
    assert rec["error"] == 0


@pytest.fixture
def lab():
    r = kernel_skip_reason()
    if r:
        pytest.skip(r)
    from fastpath.io.netns import Lab
    with Lab.create(tag="-kx") as lab:
        yield lab


def test_afpacket_exchanges_arp_and_icmp_with_the_kernel(lab):
    from fastpath.io import AfPacketDevice
    with lab.entered():
        dev = AfPacketDevice(lab.outer, promisc=True)
    try:
        mac, frame, rec = exchange(dev, lab.inner_ip, lab.inner_mac_bytes)
        check_reply(frame, rec, lab.inner_ip)
    finally:
        dev.close()


def test_afxdp_exchanges_arp_and_icmp_with_the_kernel(lab):
    r = kernel_skip_reason(need_bcc=True)
    if r:
        pytest.skip(r)
    from fastpath.io import AfXdpDevice
    from fastpath.xdp import Steering
    with Steering(default="redirect", other="redirect", max_rules=8, max_flows=8,
                  max_prefixes=8) as st:
        with lab.entered():
            st.attach(lab.outer)
            dev = AfXdpDevice(lab.outer, 0)
        st.bind(dev)
        try:
            mac, frame, rec = exchange(dev, lab.inner_ip, lab.inner_mac_bytes)
            check_reply(frame, rec, lab.inner_ip)
            assert st.stats()["totals"]["redirect"][0] >= 2
        finally:
            dev.close()


def test_tap_exchanges_arp_and_icmp_with_the_kernel(lab):
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("needs /dev/net/tun (TUN/TAP support in the kernel)")
    from fastpath.io import TapDevice
    from fastpath.io.netns import ip
    with lab.entered():
        dev = TapDevice(f"fpx{os.getpid() % 100000}", up=False)
        from fastpath.io.netns import disable_ipv6
        disable_ipv6(dev.ifname)
    try:
        ip("addr", "add", "10.201.0.100/24", "dev", dev.ifname, ns=lab.ns)
        ip("link", "set", dev.ifname, "up", ns=lab.ns)
        mac, frame, rec = exchange(dev, "10.201.0.100")
        check_reply(frame, rec, "10.201.0.100")
    finally:
        dev.close()
    # The interface lived only as long as the device.
    assert dev.ifname not in ip("-o", "link", "show", ns=lab.ns)


def test_afpacket_restores_vlan_tags_the_kernel_stripped(lab):
    """veth hands AF_PACKET 802.1Q frames with the tag in metadata; the device writes it back."""
    from fastpath.io import AfPacketDevice
    from fastpath.io.netns import PacketSocket
    from fastpath.wire.build import udp_packet
    from fastpath.wire.ethernet import EthernetRepr
    with lab.entered():
        dev = AfPacketDevice(lab.outer, promisc=True)
    with lab.peer_entered():
        peer = PacketSocket(lab.inner)
    try:
        eth = EthernetRepr(lab.outer_mac_bytes, lab.inner_mac_bytes, 0, [(0x8100, 5, 0, 42)])
        tagged = udp_packet("192.0.2.1", "192.0.2.2", 1, 9, b"tagged", ethernet=eth)
        peer.send([tagged])
        frame, rec = wait_for(dev, lambda r: r["vlan_count"] == 1)
        assert frame == tagged
        assert rec["vlan"][0] == 42 and rec["dport"] == 9
        assert dev.stats()["vlan_restored"] >= 1
    finally:
        dev.close()
        peer.close()


def packet_sockets_receiving(lab):
    """(iface index, proto) of the packet sockets in the lab's namespace that receive."""
    with lab.entered():
        with open("/proc/net/packet") as fh:
            lines = fh.read().splitlines()[1:]
    out = []
    for line in lines:
        f = line.split()            # sk RefCnt Type Proto Iface R Rmem User Inode
        if f[5] == "1":
            out.append((int(f[4]), f[3]))
    return out


def test_closing_afpacket_with_a_burst_held_stops_delivery(lab):
    """A held burst keeps the ring mapped (and so the socket alive): closing must still stop
    the kernel from copying frames into it (it is rebound to the reserved ethertype 0xFFFF)."""
    from fastpath.io import AfPacketDevice
    from fastpath.io.netif import interface_index
    with lab.entered():
        dev = AfPacketDevice(lab.outer, promisc=True)
        ifindex = interface_index(lab.outer)
    dev.send_frames([arp_request(OUR_MAC, OUR_IP, lab.inner_ip)])
    frame, rec = wait_for(dev, lambda r: r["arp_op"] == 2)
    assert frame is not None
    assert (ifindex, "0003") in [(i, p.lower()[-4:]) for i, p in packet_sockets_receiving(lab)]
    dev.send_frames([arp_request(OUR_MAC, OUR_IP, lab.inner_ip)])
    held = dev.recv(timeout=2.0)
    assert len(held) >= 1
    dev.close()
    # The socket lives on with the mapping, but no longer takes every protocol.
    assert [(i, p) for i, p in packet_sockets_receiving(lab)
            if i == ifindex and p.lower() != "ffff"] == []
    assert bytes(held.frame(0))[12:14] == b"\x08\x06"       # still readable
    held.release()
