# Address text conversion (POSIX arpa/inet.h, sys/socket.h).
cdef extern from "sys/socket.h" nogil:
    ctypedef unsigned int socklen_t
    enum:
        AF_INET
        AF_INET6

cdef extern from "arpa/inet.h" nogil:
    const char* inet_ntop(int af, const void* src, char* dst, socklen_t size)
