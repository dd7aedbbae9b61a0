# The per-packet parser: one frame in, one PacketRecord out, no Python objects, no GIL.
# Other modules (capture readers, I/O backends, the flow tracker) call it inside their own
# batch loops.
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from fastpath.wire.record cimport PacketRecord

# Fills every field of r (link type, timestamps and data_off are the caller's). Never reads
# past p + caplen; problems go to r.error, never to the caller.
cdef void parse_frame(const uint8_t* p, uint32_t caplen, uint16_t linktype, PacketRecord* r,
                      bint verify_checksums) noexcept nogil
