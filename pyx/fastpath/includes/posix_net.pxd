# Sockets, poll, ioctl, mmap, clocks and ring atomics, through fastpath_netio.h (which supplies
# placeholders on systems without the Linux interfaces; FP_HAVE_LINUX_NETIO says which).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t

cdef extern from "fastpath_netio.h" nogil:
    enum: FP_HAVE_LINUX_NETIO

    ctypedef unsigned int socklen_t
    ctypedef unsigned long nfds_t

    struct sockaddr:
        unsigned short sa_family

    struct iovec:
        void* iov_base
        size_t iov_len

    struct msghdr:
        void* msg_name
        socklen_t msg_namelen
        iovec* msg_iov
        size_t msg_iovlen
        void* msg_control
        size_t msg_controllen
        int msg_flags

    struct mmsghdr:
        msghdr msg_hdr
        unsigned int msg_len

    enum: SOCK_RAW, SOCK_DGRAM, SOCK_CLOEXEC, SOCK_NONBLOCK, AF_INET, SOL_SOCKET, SO_RCVBUF
    enum: MSG_DONTWAIT

    int socket(int domain, int type, int protocol)
    int bind(int fd, const sockaddr* addr, socklen_t len)
    int setsockopt(int fd, int level, int name, const void* val, socklen_t len)
    int getsockopt(int fd, int level, int name, void* val, socklen_t* len)
    ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* addr, socklen_t alen)
    ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr, socklen_t* alen)
    int sendmmsg(int fd, mmsghdr* vec, unsigned int vlen, int flags)

    struct pollfd:
        int fd
        short events
        short revents
    enum: POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL
    int poll(pollfd* fds, nfds_t n, int timeout)

    enum: IFNAMSIZ, IFF_UP, SIOCGIFMTU, SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCGIFINDEX
    struct ifreq:
        char ifr_name[16]
        short ifr_flags
        int ifr_mtu
        int ifr_ifindex
    unsigned int if_nametoindex(const char* name)
    int ioctl(int fd, unsigned long req, ...)

    enum: O_RDWR, O_NONBLOCK, O_CLOEXEC
    int open(const char* path, int flags, ...)
    int close(int fd)
    ssize_t read(int fd, void* buf, size_t n)
    ssize_t write(int fd, const void* buf, size_t n)

    enum: PROT_READ, PROT_WRITE, MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, MAP_POPULATE
    void* MAP_FAILED
    void* mmap(void* addr, size_t len, int prot, int flags, int fd, long long off)
    int munmap(void* addr, size_t len)

    uint32_t fp_load_acquire_u32(const uint32_t* p)
    void fp_store_release_u32(uint32_t* p, uint32_t v)
    uint32_t fp_load_relaxed_u32(const uint32_t* p)
    void fp_full_barrier()
    int64_t fp_realtime_ns()
    int64_t fp_monotonic_ns()
