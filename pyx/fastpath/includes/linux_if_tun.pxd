# <linux/if_tun.h>: TUN/TAP character device (/dev/net/tun).
cdef extern from "fastpath_netio.h" nogil:
    enum: IFF_TUN, IFF_TAP, IFF_NO_PI
    unsigned long TUNSETIFF
