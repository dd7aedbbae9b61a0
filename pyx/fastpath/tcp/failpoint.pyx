"""Failure injection for the TCP core (see failpoint.pxd). Python face: ``fastpath.tcp.failtest``."""
from libc.string cimport memset

cdef fp_state_t _state
memset(&_state, 0, sizeof(_state))
_state.last_failed_site = -1

SITE_NAMES = ("conn_alloc", "sndbuf_alloc", "rcvbuf_alloc", "ooo_insert", "sack_insert",
              "syn_queue", "accept_queue", "table_insert", "tx_alloc")


cdef fp_state_t* fp_state() noexcept nogil:
    return &_state


cdef bint fp_slow(fp_state_t* s, int site) noexcept nogil:
    s.calls += 1
    s.per_site[site] += 1
    if s.mode == FP_FAIL_NTH and s.calls == s.target:
        s.failures += 1
        s.last_failed_site = site
        return True
    if s.mode == FP_FAIL_SITE and <uint64_t>site == s.target:
        s.failures += 1
        s.last_failed_site = site
        return True
    return False


def _reset(int mode, unsigned long long target):
    memset(&_state, 0, sizeof(_state))
    _state.mode = mode
    _state.target = target
    _state.last_failed_site = -1


def set_off():
    """Normal operation: nothing fails."""
    _reset(FP_OFF, 0)


def set_count():
    """Count the failure sites passed, fail none."""
    _reset(FP_COUNT, 0)


def set_fail_nth(unsigned long long n):
    """Fail the n-th site passed (1-based, counting every site)."""
    if n < 1:
        raise ValueError("n is 1-based")
    _reset(FP_FAIL_NTH, n)


def set_fail_site(str name):
    """Fail every call at the named site."""
    _reset(FP_FAIL_SITE, SITE_NAMES.index(name))


def stats():
    """(calls, failures, last failed site name or None, {site: calls})."""
    return (_state.calls, _state.failures,
            SITE_NAMES[_state.last_failed_site] if _state.last_failed_site >= 0 else None,
            {SITE_NAMES[i]: _state.per_site[i] for i in range(FP_SITES)})
