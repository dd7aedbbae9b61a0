"""The simulated network (see sim.pxd) and application drivers that run in C.

``Simulation`` joins two ``TcpStack`` hosts, A and B, with a link each way. Everything runs on
a virtual clock (microseconds) that jumps from event to event: frame arrivals and the stacks'
timer deadlines. Impairments are drawn from a seeded generator (xoshiro256**), so a run is a
pure function of its parameters and seed.
"""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, free, realloc
from libc.string cimport memset, memcpy, memcmp

from fastpath.tcp.tcb cimport *
from fastpath.tcp.buffers cimport rcvbuf_peek, sndbuf_free_space
from fastpath.tcp.connection cimport (tcp_send, tcp_recv_consume, tcp_at_eof, tcp_shutdown,
                                      error_for)
from fastpath.tcp.stack cimport (TcpStack, tcp_stack_t, stack_input, stack_poll, stack_poll_at,
                                 stack_listen, stack_accept, stack_connect, stack_release,
                                 stack_kick, stack_unlisten, tx_alloc_fn, tx_commit_fn)

import ipaddress

from fastpath.errors import ConfigError, FastpathError
from fastpath.tcp.config import TcpConfig


# ------------------------------------------------------------------ randomness

cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline uint64_t _next(uint64_t* s) noexcept nogil:
    # xoshiro256** (Blackman and Vigna).
    cdef uint64_t result = _rotl(s[1] * 5, 7) * 9
    cdef uint64_t t = s[1] << 17
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


cdef inline double _uniform(uint64_t* s) noexcept nogil:
    return (_next(s) >> 11) * (1.0 / 9007199254740992.0)


cdef void _seed(uint64_t* s, uint64_t seed) noexcept nogil:
    # splitmix64 expands the seed into the generator state.
    cdef int i
    cdef uint64_t z
    for i in range(4):
        seed += 0x9E3779B97F4A7C15ULL
        z = seed
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
        s[i] = z ^ (z >> 31)


# ------------------------------------------------------------------ links

cdef inline void _lheap_up(sim_link_t* L, uint32_t i) noexcept nogil:
    cdef uint32_t p
    cdef sim_frame_t t
    while i > 0:
        p = (i - 1) >> 1
        if (L.heap[p].at < L.heap[i].at or
                (L.heap[p].at == L.heap[i].at and L.heap[p].order < L.heap[i].order)):
            break
        t = L.heap[p]
        L.heap[p] = L.heap[i]
        L.heap[i] = t
        i = p


cdef inline bint _lless(const sim_frame_t* a, const sim_frame_t* b) noexcept nogil:
    return a.at < b.at or (a.at == b.at and a.order < b.order)


cdef inline void _lheap_pop(sim_link_t* L) noexcept nogil:
    cdef uint32_t i = 0, l, r, m
    cdef sim_frame_t t
    L.heap_len -= 1
    if L.heap_len == 0:
        return
    L.heap[0] = L.heap[L.heap_len]
    while True:
        l = 2 * i + 1
        r = l + 1
        m = i
        if l < L.heap_len and _lless(&L.heap[l], &L.heap[m]):
            m = l
        if r < L.heap_len and _lless(&L.heap[r], &L.heap[m]):
            m = r
        if m == i:
            break
        t = L.heap[m]
        L.heap[m] = L.heap[i]
        L.heap[i] = t
        i = m


cdef int _link_init(sim_link_t* L, uint32_t queue_limit, uint32_t slot_size,
                    uint64_t seed, const uint64_t* clock) noexcept nogil:
    cdef uint32_t i
    L.queue_limit = queue_limit
    L.slot_size = slot_size
    # Room for a full queue, its duplicates and the frame being built.
    L.nslots = 2 * queue_limit + 2
    L.slots = <uint8_t*>malloc(<size_t>L.nslots * slot_size)
    L.free_stack = <uint32_t*>malloc(sizeof(uint32_t) * L.nslots)
    L.heap = <sim_frame_t*>malloc(sizeof(sim_frame_t) * L.nslots)
    L.fifo = <sim_frame_t*>malloc(sizeof(sim_frame_t) * L.nslots)
    if L.slots == NULL or L.free_stack == NULL or L.heap == NULL or L.fifo == NULL:
        return -1
    L.fifo_head = 0
    L.fifo_len = 0
    L.fifo_last_at = 0
    for i in range(L.nslots):
        L.free_stack[i] = L.nslots - 1 - i
    L.nfree = L.nslots
    L.heap_len = 0
    L.pending = 0xffffffffu
    L.busy_until = 0
    L.order = 0
    L.clock = clock
    _seed(L.rng, seed)
    return 0


cdef void _link_free(sim_link_t* L) noexcept nogil:
    free(L.slots)
    free(L.free_stack)
    free(L.heap)
    free(L.fifo)
    L.slots = NULL
    L.free_stack = NULL
    L.heap = NULL
    L.fifo = NULL


cdef uint8_t* _link_alloc(void* ctx, uint32_t* cap) noexcept nogil:
    cdef sim_link_t* L = <sim_link_t*>ctx
    if L.nfree == 0:
        return NULL
    L.nfree -= 1
    L.pending = L.free_stack[L.nfree]
    cap[0] = L.slot_size
    return L.slots + <size_t>L.pending * L.slot_size


cdef inline void _give(sim_link_t* L, uint32_t slot) noexcept nogil:
    L.free_stack[L.nfree] = slot
    L.nfree += 1


cdef inline void _enqueue(sim_link_t* L, uint32_t slot, uint32_t length, uint64_t at) noexcept nogil:
    cdef sim_frame_t* f
    if L.fifo_len == 0 or at >= L.fifo_last_at:
        # In sending order (no reordering at play): a plain queue.
        f = &L.fifo[(L.fifo_head + L.fifo_len) % L.nslots]
        L.fifo_len += 1
        L.fifo_last_at = at
    else:
        f = &L.heap[L.heap_len]
        L.heap_len += 1
    f.at = at
    f.order = L.order
    f.slot = slot
    f.length = length
    L.order += 1
    if L.heap_len and f == &L.heap[L.heap_len - 1]:
        _lheap_up(L, L.heap_len - 1)


cdef inline uint32_t _in_flight(const sim_link_t* L) noexcept nogil:
    return L.heap_len + L.fifo_len


cdef inline bint _peek(const sim_link_t* L, sim_frame_t* out) noexcept nogil:
    # The next frame to arrive: the earlier of the queue's head and the heap's top.
    cdef const sim_frame_t* q
    if L.fifo_len:
        q = &L.fifo[L.fifo_head]
        if L.heap_len and _lless(&L.heap[0], q):
            out[0] = L.heap[0]
        else:
            out[0] = q[0]
        return True
    if L.heap_len:
        out[0] = L.heap[0]
        return True
    return False


cdef inline void _pop(sim_link_t* L) noexcept nogil:
    if L.fifo_len and not (L.heap_len and _lless(&L.heap[0], &L.fifo[L.fifo_head])):
        L.fifo_head = (L.fifo_head + 1) % L.nslots
        L.fifo_len -= 1
    else:
        _lheap_pop(L)


cdef void _link_commit(void* ctx, uint8_t* frame, uint32_t length) noexcept nogil:
    cdef sim_link_t* L = <sim_link_t*>ctx
    cdef uint32_t slot = L.pending, dup, bit
    cdef uint64_t now = L.clock[0], start, at
    L.pending = 0xffffffffu
    if length == 0:
        _give(L, slot)
        return
    L.stats.sent += 1
    if _in_flight(L) >= L.queue_limit:
        L.stats.queue_drops += 1            # a full router queue: tail drop
        _give(L, slot)
        return
    if L.loss > 0 and _uniform(L.rng) < L.loss:
        L.stats.lost += 1
        _give(L, slot)
        return
    # Serialisation at the link rate, then propagation.
    start = now if now > L.busy_until else L.busy_until
    if L.bandwidth_bps:
        L.busy_until = start + (<uint64_t>length * 8000000ULL) // L.bandwidth_bps
    else:
        L.busy_until = start
    at = L.busy_until + L.delay_us
    if L.duplicate > 0 and L.nfree and _uniform(L.rng) < L.duplicate:
        L.stats.duplicated += 1
        L.nfree -= 1
        dup = L.free_stack[L.nfree]
        memcpy(L.slots + <size_t>dup * L.slot_size, frame, length)
        _enqueue(L, dup, length, at + 1 + (_next(L.rng) % (L.delay_us + 1)))
    if L.corrupt > 0 and _uniform(L.rng) < L.corrupt:
        L.stats.corrupted += 1
        bit = <uint32_t>(_next(L.rng) % (<uint64_t>length * 8))
        frame[bit >> 3] ^= <uint8_t>(1 << (bit & 7))
    if L.reorder > 0 and _uniform(L.rng) < L.reorder:
        L.stats.reordered += 1
        at += 1 + _next(L.rng) % (L.reorder_delay_us if L.reorder_delay_us else 1)
    _enqueue(L, slot, length, at)


# ------------------------------------------------------------------ trace (test aid)

ctypedef struct trace_t:
    uint64_t* times
    uint8_t* dirs
    uint32_t* lens
    uint8_t** data
    uint32_t count
    uint32_t cap


ctypedef struct tap_ctx_t:
    sim_link_t* link
    trace_t* trace
    uint8_t dir
    uint8_t* frame


cdef uint8_t* _tap_alloc(void* ctx, uint32_t* cap) noexcept nogil:
    cdef tap_ctx_t* t = <tap_ctx_t*>ctx
    t.frame = _link_alloc(t.link, cap)
    return t.frame


cdef void _tap_commit(void* ctx, uint8_t* frame, uint32_t length) noexcept nogil:
    cdef tap_ctx_t* t = <tap_ctx_t*>ctx
    cdef trace_t* tr = t.trace
    cdef uint8_t* copy
    if length and tr.count < tr.cap:
        copy = <uint8_t*>malloc(length)
        if copy != NULL:
            memcpy(copy, frame, length)
            tr.times[tr.count] = t.link.clock[0]
            tr.dirs[tr.count] = t.dir
            tr.lens[tr.count] = length
            tr.data[tr.count] = copy
            tr.count += 1
    _link_commit(t.link, frame, length)


# ------------------------------------------------------------------ the simulation

cdef uint32_t PATTERN_PERIOD = 65521            # prime: offsets never line up with segments
cdef uint8_t* _pattern = NULL


cdef const uint8_t* _get_pattern() noexcept nogil:
    # The byte at stream offset i is _pattern[i % PATTERN_PERIOD]; 1 MiB of slack lets any
    # read of up to 1 MiB be compared in one memcmp.
    global _pattern
    cdef uint32_t i, x
    if _pattern == NULL:
        _pattern = <uint8_t*>malloc(PATTERN_PERIOD + (1 << 20))
        if _pattern == NULL:
            return NULL
        for i in range(PATTERN_PERIOD + (1 << 20)):
            x = (i % PATTERN_PERIOD) * 2654435761u
            _pattern[i] = <uint8_t>((x >> 13) ^ (x >> 24))
    return _pattern


def pattern_bytes(uint64_t offset, uint32_t length):
    """The data the drivers send: ``length`` bytes of the stream from ``offset``."""
    cdef const uint8_t* p = _get_pattern()
    out = bytearray(length)
    cdef uint32_t i
    for i in range(length):
        out[i] = p[(offset + i) % PATTERN_PERIOD]
    return bytes(out)


ctypedef struct endpoint_t:
    # One side of a C-driven transfer: what it sends, what it has received and checked.
    tcp_conn_t* c
    uint64_t to_send
    uint64_t sent
    uint64_t received
    uint64_t mismatches         # received bytes that differ from the pattern at their offset
    uint64_t read_from          # virtual time before which the application does not read
    uint32_t read_limit         # bytes read per step (0: all)
    bint shut
    bint done                   # saw EOF
    int error


cdef inline void _app_write(tcp_stack_t* st, endpoint_t* e, uint64_t now, const uint8_t* pat) noexcept nogil:
    cdef int64_t n
    cdef uint32_t want, off
    cdef bint wrote = False
    while e.sent < e.to_send and e.c.state != TCPS_CLOSED:
        off = <uint32_t>(e.sent % PATTERN_PERIOD)
        want = <uint32_t>(e.to_send - e.sent) if e.to_send - e.sent < (1 << 20) else (1 << 20)
        n = tcp_send(e.c, pat + off, want)
        if n <= 0:
            if n < 0:
                e.error = <int>-n
            break
        e.sent += <uint64_t>n
        wrote = True
    if e.sent == e.to_send and not e.shut and e.c.state != TCPS_CLOSED:
        tcp_shutdown(e.c, now)
        e.shut = True
        wrote = True
    if wrote:
        stack_kick(st, e.c, now)


cdef inline void _app_read(tcp_stack_t* st, endpoint_t* e, uint64_t now, const uint8_t* pat) noexcept nogil:
    cdef const uint8_t* p1
    cdef const uint8_t* p2
    cdef uint32_t n1, n2, off, budget
    cdef bint did = False
    if now < e.read_from:
        return
    budget = e.read_limit if e.read_limit else 0xffffffffu
    while e.c.rcv.data != NULL and e.c.rcv.len and budget:
        rcvbuf_peek(&e.c.rcv, &p1, &n1, &p2, &n2)
        if n1 > budget:
            n1 = budget
        if n1 > (1 << 20):
            n1 = 1 << 20
        off = <uint32_t>(e.received % PATTERN_PERIOD)
        if memcmp(p1, pat + off, n1) != 0:
            e.mismatches += 1
        e.received += n1
        budget -= n1
        tcp_recv_consume(e.c, n1)
        did = True
    if did:
        stack_kick(st, e.c, now)
    if not e.done and tcp_at_eof(e.c):
        e.done = True
        if e.c.error:
            e.error = e.c.error


@cython.final
cdef class Link:
    """One direction of the simulated network. Probabilities are per frame (0..1)."""
    cdef sim_link_t* L
    cdef object owner

    def __init__(self):
        raise TypeError("links belong to a Simulation (sim.ab, sim.ba)")

    @property
    def stats(self):
        return dict(self.L.stats)

    @property
    def in_flight(self):
        return _in_flight(self.L)

    def _set(self, str name, value):
        cdef double p
        cdef uint64_t n
        if name in ("loss", "reorder", "duplicate", "corrupt"):
            p = float(value)
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"{name} is a probability per frame, 0..1, not {value!r}")
            if name == "loss":
                self.L.loss = p
            elif name == "reorder":
                self.L.reorder = p
            elif name == "duplicate":
                self.L.duplicate = p
            else:
                self.L.corrupt = p
        elif name in ("delay_us", "reorder_delay_us", "bandwidth_bps"):
            if int(value) < 0:
                raise ConfigError(f"{name} must not be negative")
            n = int(value)
            if name == "delay_us":
                self.L.delay_us = n
            elif name == "reorder_delay_us":
                self.L.reorder_delay_us = n
            else:
                self.L.bandwidth_bps = n
        else:
            raise ConfigError(f"unknown link setting {name!r}")

    def configure(self, **settings):
        """Change impairments: loss, reorder, duplicate, corrupt (probabilities), delay_us,
        reorder_delay_us, bandwidth_bps (0 = unlimited)."""
        for k, v in settings.items():
            self._set(k, v)

    @property
    def loss(self): return self.L.loss
    @property
    def delay_us(self): return self.L.delay_us
    @property
    def bandwidth_bps(self): return self.L.bandwidth_bps


cdef Link _link_obj(sim_link_t* L, object owner):
    cdef Link l = Link.__new__(Link)
    l.L = L
    l.owner = owner
    return l


@cython.final
cdef class Simulation:
    """Two TCP hosts, A and B, joined by a link each way, on a virtual clock.

    ``sim.a`` / ``sim.b`` are ordinary ``TcpStack`` objects (listen, connect, send, recv work
    as usual); ``sim.ab`` / ``sim.ba`` are the links. ``step()`` advances the clock to the next
    event; ``run(...)`` repeats it. The ``transfer``, ``bulk`` and ``churn`` drivers run whole
    scenarios in C.
    """
    cdef readonly TcpStack a
    cdef readonly TcpStack b
    cdef sim_link_t ab_link
    cdef sim_link_t ba_link
    cdef readonly Link ab
    cdef readonly Link ba
    cdef uint64_t clock
    cdef trace_t trace
    cdef tap_ctx_t tap_ab
    cdef tap_ctx_t tap_ba
    cdef readonly str addr_a
    cdef readonly str addr_b

    def __cinit__(self):
        memset(&self.ab_link, 0, sizeof(sim_link_t))
        memset(&self.ba_link, 0, sizeof(sim_link_t))
        memset(&self.trace, 0, sizeof(trace_t))

    def __init__(self, config=None, *, a_config=None, b_config=None, ipv6=False, seed=0,
                 delay_us=50, bandwidth_bps=0, loss=0.0, reorder=0.0, reorder_delay_us=200,
                 duplicate=0.0, corrupt=0.0, queue_limit=4096, mtu=1500, ethernet=False,
                 max_connections=4096, max_timewait=None, trace=0):
        cfg = config if config is not None else TcpConfig()
        if ipv6:
            self.addr_a, self.addr_b = "fd00::a", "fd00::b"
        else:
            self.addr_a, self.addr_b = "10.0.0.1", "10.0.0.2"
        eth_a = eth_b = None
        if ethernet:
            eth_a = ("02:00:00:00:00:0a", "02:00:00:00:00:0b")
            eth_b = ("02:00:00:00:00:0b", "02:00:00:00:00:0a")
        self.a = TcpStack(self.addr_a, a_config or cfg, mtu=mtu, ethernet=eth_a,
                          seed=("a", seed), max_connections=max_connections,
                          max_timewait=max_timewait)
        self.b = TcpStack(self.addr_b, b_config or cfg, mtu=mtu, ethernet=eth_b,
                          seed=("b", seed), max_connections=max_connections,
                          max_timewait=max_timewait)
        queue_limit = int(queue_limit)
        if not 1 <= queue_limit <= (1 << 22):
            raise ConfigError("queue_limit must be 1..4194304 frames")
        slot = mtu + 64
        if (_link_init(&self.ab_link, queue_limit, slot, (<uint64_t>seed * 2 + 1) & 0xffffffffffffffffULL,
                       &self.clock) < 0 or
                _link_init(&self.ba_link, queue_limit, slot, (<uint64_t>seed * 2 + 2) & 0xffffffffffffffffULL,
                           &self.clock) < 0):
            raise MemoryError("cannot allocate the simulated links")
        self.ab = _link_obj(&self.ab_link, self)
        self.ba = _link_obj(&self.ba_link, self)
        for link in (self.ab, self.ba):
            link.configure(delay_us=delay_us, bandwidth_bps=bandwidth_bps, loss=loss,
                           reorder=reorder, reorder_delay_us=reorder_delay_us,
                           duplicate=duplicate, corrupt=corrupt)
        trace = int(trace)
        if trace:
            self.trace.cap = trace
            self.trace.times = <uint64_t*>calloc(trace, sizeof(uint64_t))
            self.trace.dirs = <uint8_t*>calloc(trace, 1)
            self.trace.lens = <uint32_t*>calloc(trace, sizeof(uint32_t))
            self.trace.data = <uint8_t**>calloc(trace, sizeof(uint8_t*))
            if not (self.trace.times and self.trace.dirs and self.trace.lens and self.trace.data):
                raise MemoryError("cannot allocate the trace")
            self.tap_ab.link = &self.ab_link
            self.tap_ab.trace = &self.trace
            self.tap_ab.dir = 0
            self.tap_ba.link = &self.ba_link
            self.tap_ba.trace = &self.trace
            self.tap_ba.dir = 1
            self.a.set_device(_tap_alloc, _tap_commit, &self.tap_ab)
            self.b.set_device(_tap_alloc, _tap_commit, &self.tap_ba)
        else:
            self.a.set_device(_link_alloc, _link_commit, &self.ab_link)
            self.b.set_device(_link_alloc, _link_commit, &self.ba_link)

    def __dealloc__(self):
        cdef uint32_t i
        # The stacks may outlive us (the caller holds them): give them a device that refuses.
        if self.a is not None:
            self.a.set_device(_null_alloc, _null_commit, NULL)
        if self.b is not None:
            self.b.set_device(_null_alloc, _null_commit, NULL)
        _link_free(&self.ab_link)
        _link_free(&self.ba_link)
        for i in range(self.trace.count):
            free(self.trace.data[i])
        free(self.trace.times)
        free(self.trace.dirs)
        free(self.trace.lens)
        free(self.trace.data)

    @property
    def now(self):
        """The virtual clock, microseconds."""
        return self.clock

    cdef bint _step(self) noexcept nogil:
        cdef uint64_t t = 0xffffffffffffffffULL, d
        cdef tcp_stack_t* sa = self.a.st
        cdef tcp_stack_t* sb = self.b.st
        cdef sim_link_t* L
        cdef sim_frame_t f
        if _peek(&self.ab_link, &f):
            t = f.at
        if _peek(&self.ba_link, &f) and f.at < t:
            t = f.at
        d = stack_poll_at(sa)          # 0 means no timer
        if d and d < t:
            t = d
        d = stack_poll_at(sb)
        if d and d < t:
            t = d
        if t == 0xffffffffffffffffULL:
            return False
        if t > self.clock:
            self.clock = t
        t = self.clock
        L = &self.ab_link
        while _peek(L, &f) and f.at <= t:
            _pop(L)
            L.stats.delivered += 1
            L.stats.bytes_delivered += f.length
            stack_input(sb, t, L.slots + <size_t>f.slot * L.slot_size, f.length)
            _give(L, f.slot)
        L = &self.ba_link
        while _peek(L, &f) and f.at <= t:
            _pop(L)
            L.stats.delivered += 1
            L.stats.bytes_delivered += f.length
            stack_input(sa, t, L.slots + <size_t>f.slot * L.slot_size, f.length)
            _give(L, f.slot)
        stack_poll(sa, t)
        stack_poll(sb, t)
        return True

    def step(self):
        """Advance to the next event and process it. False when nothing is scheduled."""
        return self._step()

    def run(self, until_us=None, max_steps=None, until=None):
        """Step until the clock passes ``until_us``, ``until()`` returns true, nothing is
        scheduled, or ``max_steps`` steps ran. Returns the number of steps."""
        cdef uint64_t limit = 0xffffffffffffffffULL if until_us is None else <uint64_t>until_us
        cdef uint64_t steps = 0, cap = 0xffffffffffffffffULL if max_steps is None else <uint64_t>max_steps
        while steps < cap:
            if until is not None and until():
                break
            if self._next_event() > limit:
                self.clock = max(self.clock, limit)
                break
            if not self._step():
                break
            steps += 1
        return steps

    cdef uint64_t _next_event(self):
        cdef uint64_t t = 0xffffffffffffffffULL, d
        cdef sim_frame_t f
        if _peek(&self.ab_link, &f):
            t = min(t, f.at)
        if _peek(&self.ba_link, &f):
            t = min(t, f.at)
        d = stack_poll_at(self.a.st)
        if d:
            t = min(t, d)
        d = stack_poll_at(self.b.st)
        if d:
            t = min(t, d)
        return t

    def write_pcap(self, path):
        """Write the traced frames (``trace=N``) to a pcap file that tshark, Wireshark or
        tcpdump can read: raw IP (LINKTYPE_RAW) or Ethernet, timestamps = virtual time."""
        from fastpath.capture import PcapWriter
        linktype = 1 if self.a.st.use_eth else 101
        with PcapWriter(path, linktype=linktype) as w:
            for t, _, frame in self.trace_frames():
                w.write(frame, t * 1000)

    def trace_frames(self):
        """[(time_us, 'a>b' | 'b>a', frame bytes)] as the stacks sent them (before impairment)."""
        cdef uint32_t i
        return [(self.trace.times[i], "a>b" if self.trace.dirs[i] == 0 else "b>a",
                 bytes((<char*>self.trace.data[i])[:self.trace.lens[i]]))
                for i in range(self.trace.count)]

    # ---------------------------------------------------------------- C drivers

    def transfer(self, uint64_t a_to_b, uint64_t b_to_a=0, *, int port=5001,
                 uint64_t max_time_us=600_000_000, uint64_t b_read_from_us=0,
                 uint32_t b_read_limit=0, cut_at_us=None):
        """A connects to B; each side sends its byte count of the pattern stream, shuts down
        sending, reads and checks everything the other sends, and the run continues until
        both connections are closed (TIME-WAIT counts) or one fails. Returns a dict with the
        bytes each side received, mismatches, final states and errors, and the virtual time."""
        cdef tcp_stack_t* sa = self.a.st
        cdef tcp_stack_t* sb = self.b.st
        cdef endpoint_t ea, eb
        cdef const uint8_t* pat = _get_pattern()
        cdef int lidx, err = 0
        cdef uint64_t start = self.clock, deadline
        cdef bytes raddr
        cdef bint progressed
        memset(&ea, 0, sizeof(endpoint_t))
        memset(&eb, 0, sizeof(endpoint_t))
        if pat == NULL:
            raise MemoryError("pattern")
        lidx = stack_listen(sb, <uint16_t>port, 16)
        if lidx < 0:
            raise ConfigError(f"port {port} is busy on B")
        b = ipaddress.ip_address(self.addr_b)
        raddr = (b"\0" * 10 + b"\xff\xff" + b.packed) if b.version == 4 else b.packed
        ea.c = stack_connect(sa, self.clock, <const uint8_t*>raddr, <uint16_t>port, 0, &err)
        if ea.c == NULL:
            stack_unlisten(sb, lidx, self.clock)
            raise error_for(err, "transfer: connect")
        ea.to_send = a_to_b
        eb.to_send = b_to_a
        eb.read_from = start + b_read_from_us
        eb.read_limit = b_read_limit
        deadline = start + max_time_us
        cdef uint64_t cut = 0xffffffffffffffffULL if cut_at_us is None else start + <uint64_t>cut_at_us
        with nogil:
            while self.clock < deadline:
                if self.clock >= cut:
                    self.ab_link.loss = 1.0
                    self.ba_link.loss = 1.0
                if eb.c == NULL:
                    eb.c = stack_accept(sb, lidx)
                if ea.c.state >= TCPS_ESTABLISHED or ea.c.state == TCPS_CLOSED:
                    _app_write(sa, &ea, self.clock, pat)
                    _app_read(sa, &ea, self.clock, pat)
                if eb.c != NULL:
                    _app_write(sb, &eb, self.clock, pat)
                    _app_read(sb, &eb, self.clock, pat)
                if ea.c.state == TCPS_CLOSED and (eb.c == NULL or eb.c.state == TCPS_CLOSED or
                                                  eb.c.state == TCPS_TIME_WAIT):
                    break
                if eb.c != NULL and eb.c.state == TCPS_CLOSED and (ea.c.state == TCPS_TIME_WAIT):
                    break
                if not self._step():
                    break
        result = {
            "a_sent": ea.sent, "b_sent": eb.sent,
            "a_received": ea.received, "b_received": eb.received,
            "a_mismatches": ea.mismatches, "b_mismatches": eb.mismatches,
            "a_eof": bool(ea.done), "b_eof": bool(eb.done),
            "a_state": ea.c.state, "b_state": eb.c.state if eb.c != NULL else None,
            "a_error": error_for(ea.c.error, "") if ea.c.error else None,
            "b_error": (error_for(eb.c.error, "") if eb.c != NULL and eb.c.error else None),
            "time_us": self.clock - start,
            "accepted": eb.c != NULL,
            "a_detail": _summary(ea.c),
            "b_detail": _summary(eb.c) if eb.c != NULL else None,
        }
        stack_release(sa, ea.c, self.clock)
        if eb.c != NULL:
            stack_release(sb, eb.c, self.clock)
        stack_unlisten(sb, lidx, self.clock)
        return result

    def open_idle(self, uint64_t count, *, int port=20000, uint32_t batch=1000):
        """Open ``count`` connections from A to B and leave them ESTABLISHED and idle (the
        handles are let go; the connections stay). B listens on as many ports from ``port``
        as 16,000 connections each need (one source address has 16,384 ephemeral ports).
        For measuring memory per connection. Returns the number established."""
        cdef tcp_stack_t* sa = self.a.st
        cdef tcp_stack_t* sb = self.b.st
        cdef int err = 0, k, nports = <int>((count + 15999) // 16000)
        cdef uint64_t opened = 0, accepted = 0, pending
        cdef tcp_conn_t* c
        cdef bytes raddr
        cdef const uint8_t* ra
        cdef int lidx[64]
        if nports > 64:
            raise ConfigError("open_idle: at most 1,024,000 connections")
        for k in range(nports):
            lidx[k] = stack_listen(sb, <uint16_t>(port + k), batch + 16)
            if lidx[k] < 0:
                raise ConfigError(f"port {port + k} is busy on B")
        b = ipaddress.ip_address(self.addr_b)
        raddr = (b"\0" * 10 + b"\xff\xff" + b.packed) if b.version == 4 else b.packed
        ra = <const uint8_t*>raddr
        with nogil:
            while accepted < count:
                pending = 0
                k = <int>(opened // 16000)
                while pending < batch and opened < count and k == <int>(opened // 16000):
                    c = stack_connect(sa, self.clock, ra, <uint16_t>(port + k), 0, &err)
                    if c == NULL:
                        break
                    stack_release(sa, c, self.clock)
                    opened += 1
                    pending += 1
                if pending == 0:
                    break
                while accepted < opened:
                    c = stack_accept(sb, lidx[k])
                    if c == NULL:
                        if not self._step():
                            break
                        continue
                    stack_release(sb, c, self.clock)
                    accepted += 1
        for k in range(nports):
            stack_unlisten(sb, lidx[k], self.clock)
        return accepted

    def churn(self, uint64_t count, *, int port=5002, uint32_t concurrency=16,
              uint32_t request=0, uint64_t max_time_us=3_600_000_000):
        """Open and close ``count`` connections from A to B, ``concurrency`` at a time: connect,
        optionally send ``request`` bytes, client shuts down, server reads to EOF and shuts
        down, both release. Returns completed / failed counts and the virtual time."""
        cdef tcp_stack_t* sa = self.a.st
        cdef tcp_stack_t* sb = self.b.st
        cdef int lidx, err = 0
        cdef uint32_t k, nslots = concurrency
        cdef uint64_t started = 0, completed = 0, failed = 0, connect_errors = 0
        cdef uint64_t start = self.clock, deadline = self.clock + max_time_us
        cdef endpoint_t* cli
        cdef tcp_conn_t* s
        cdef const uint8_t* pat = _get_pattern()
        cdef bytes raddr
        cdef const uint8_t* ra
        if concurrency < 1 or concurrency > 65536:
            raise ConfigError("concurrency must be 1..65536")
        lidx = stack_listen(sb, <uint16_t>port, concurrency * 2 + 16)
        if lidx < 0:
            raise ConfigError(f"port {port} is busy on B")
        b = ipaddress.ip_address(self.addr_b)
        raddr = (b"\0" * 10 + b"\xff\xff" + b.packed) if b.version == 4 else b.packed
        ra = <const uint8_t*>raddr
        cli = <endpoint_t*>calloc(nslots, sizeof(endpoint_t))
        srv = <endpoint_t*>calloc(nslots * 4 + 64, sizeof(endpoint_t))
        if cli == NULL or srv == NULL:
            free(cli)
            free(srv)
            raise MemoryError("churn slots")
        cdef endpoint_t* servers = <endpoint_t*>srv
        cdef uint32_t nserv = 0, cap_serv = nslots * 4 + 64, j
        with nogil:
            while self.clock < deadline:
                # Clients: start new connections in free slots, drive the others.
                for k in range(nslots):
                    if cli[k].c == NULL:
                        if started < count:
                            memset(&cli[k], 0, sizeof(endpoint_t))
                            cli[k].c = stack_connect(sa, self.clock, ra, <uint16_t>port, 0, &err)
                            if cli[k].c == NULL:
                                connect_errors += 1
                                failed += 1
                            cli[k].to_send = request
                            started += 1
                        continue
                    if cli[k].c.state >= TCPS_ESTABLISHED and cli[k].c.state != TCPS_TIME_WAIT:
                        _app_write(sa, &cli[k], self.clock, pat)
                        _app_read(sa, &cli[k], self.clock, pat)
                    if cli[k].c.state == TCPS_TIME_WAIT or cli[k].c.state == TCPS_CLOSED:
                        if cli[k].c.error or not cli[k].shut:
                            failed += 1
                        else:
                            completed += 1
                        stack_release(sa, cli[k].c, self.clock)
                        cli[k].c = NULL
                # Server: accept, read to EOF, shut down, release when closed.
                while nserv < cap_serv:
                    s = stack_accept(sb, lidx)
                    if s == NULL:
                        break
                    memset(&servers[nserv], 0, sizeof(endpoint_t))
                    servers[nserv].c = s
                    nserv += 1
                j = 0
                while j < nserv:
                    _app_read(sb, &servers[j], self.clock, pat)
                    if servers[j].done and not servers[j].shut:
                        servers[j].to_send = 0
                        _app_write(sb, &servers[j], self.clock, pat)
                    if servers[j].c.state == TCPS_CLOSED:
                        stack_release(sb, servers[j].c, self.clock)
                        nserv -= 1
                        servers[j] = servers[nserv]
                        continue
                    j += 1
                if completed + failed >= count:
                    break
                if not self._step():
                    break
            for k in range(nslots):
                if cli[k].c != NULL:
                    stack_release(sa, cli[k].c, self.clock)
            for j in range(nserv):
                stack_release(sb, servers[j].c, self.clock)
        free(cli)
        free(srv)
        stack_unlisten(sb, lidx, self.clock)
        return {"completed": completed, "failed": failed, "connect_errors": connect_errors,
                "time_us": self.clock - start}


cdef str _summary(const tcp_conn_t* c):
    # One line of the variables that explain a stuck or failed run.
    return (f"state={c.state} una={c.snd_una - c.iss} nxt={c.snd_nxt - c.iss} "
            f"max={c.snd_max - c.iss} sndbuf={c.snd.len} snd_wnd={c.snd_wnd} cwnd={c.cwnd} "
            f"ssthresh={c.ssthresh} rec={c.recovery} dupacks={c.dupacks} rto={c.rto_us} "
            f"backoff={c.backoff} retries={c.retries} t_rtx={c.t_rtx} t_delack={c.t_delack} "
            f"t_2msl={c.t_2msl} pend={c.pend:#x} rcv_nxt={c.rcv_nxt - c.irs} "
            f"rcv_adv={c.rcv_adv - c.irs} rcvbuf={c.rcv.len} ooo={c.rcv.ooo_count} "
            f"sacked={c.sb.count} opts={c.opts:#x} err={c.error}")


cdef uint8_t* _null_alloc(void* ctx, uint32_t* cap) noexcept nogil:
    return NULL


cdef void _null_commit(void* ctx, uint8_t* frame, uint32_t length) noexcept nogil:
    pass
