# Small interface queries shared by the Linux backends (ioctl on an AF_INET datagram socket).
cpdef int interface_mtu(str ifname) except -1
cpdef int set_link_up(str ifname) except -1
cpdef int interface_index(str ifname) except -1
