"""Interface queries shared by the backends: MTU, index, bringing a link up."""
from libc.errno cimport errno
from libc.string cimport memset, strncpy

from fastpath.includes.posix_net cimport (ioctl, socket, close, ifreq, AF_INET, SOCK_DGRAM,
                                          SOCK_CLOEXEC, IFF_UP, SIOCGIFFLAGS, SIOCSIFFLAGS,
                                          SIOCGIFMTU, IFNAMSIZ, if_nametoindex)
from fastpath.io.device cimport raise_os_error
from fastpath.errors import ConfigError


cdef int _ifreq_ioctl(str ifname, unsigned long op, ifreq* req, str what) except -1:
    cdef int s
    name = ifname.encode()
    if not name or len(name) >= IFNAMSIZ:
        raise ConfigError(f"interface name {ifname!r} must be 1..{IFNAMSIZ - 1} bytes")
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)
    if s < 0:
        raise_os_error(errno, "socket(AF_INET)", ifname)
    try:
        strncpy(req.ifr_name, name, IFNAMSIZ - 1)
        if ioctl(s, op, req) < 0:
            raise_os_error(errno, what, ifname)
    finally:
        close(s)
    return 0


cpdef int interface_mtu(str ifname) except -1:
    """The interface's MTU (SIOCGIFMTU)."""
    cdef ifreq req
    memset(&req, 0, sizeof(req))
    _ifreq_ioctl(ifname, SIOCGIFMTU, &req, "reading the MTU (SIOCGIFMTU)")
    return req.ifr_mtu


cpdef int set_link_up(str ifname) except -1:
    """Set IFF_UP on the interface (like 'ip link set IFNAME up')."""
    cdef ifreq req
    memset(&req, 0, sizeof(req))
    _ifreq_ioctl(ifname, SIOCGIFFLAGS, &req, "reading the flags (SIOCGIFFLAGS)")
    req.ifr_flags |= IFF_UP
    _ifreq_ioctl(ifname, SIOCSIFFLAGS, &req, "bringing the interface up (SIOCSIFFLAGS)")
    return 0


cpdef int interface_index(str ifname) except -1:
    """The interface's index, or ConfigError naming the interface when there is none."""
    cdef unsigned int i = if_nametoindex(ifname.encode())
    if i == 0:
        raise ConfigError(f"no network interface named {ifname!r} in this network namespace "
                          f"(see 'ip link')")
    return <int>i
