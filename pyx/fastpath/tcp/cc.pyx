"""The congestion-control registry (see cc.pxd)."""
from fastpath.tcp.tcb cimport tcp_cc_ops_t
from fastpath.tcp.newreno cimport newreno_ops
from fastpath.tcp.cubic cimport cubic_ops

cdef const tcp_cc_ops_t* _registry[CC_MAX]
cdef int _count = 0


cdef const tcp_cc_ops_t* cc_get(int algo) noexcept nogil:
    if algo < 0 or algo >= _count:
        return _registry[CC_NEWRENO]
    return _registry[algo]


cdef int cc_register(const tcp_cc_ops_t* ops) noexcept nogil:
    global _count
    if _count == CC_MAX:
        return -1
    _registry[_count] = ops
    _count += 1
    return _count - 1


cc_register(newreno_ops())
cc_register(cubic_ops())


def algorithms():
    """Names of the registered algorithms, by index."""
    return [(<bytes>_registry[i].name).decode() for i in range(_count)]


def index_of(str name):
    names = algorithms()
    try:
        return names.index(name)
    except ValueError:
        from fastpath.errors import ConfigError
        raise ConfigError(f"unknown congestion control {name!r}: choose one of {', '.join(names)}") from None
