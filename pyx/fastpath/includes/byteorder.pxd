# Loads and stores of network-order (big-endian) integers at any alignment.
# Written as shifts so they are portable; gcc and clang turn them into a single load plus bswap.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy


cdef inline uint16_t load_be16(const uint8_t* p) noexcept nogil:
    return <uint16_t>((<uint16_t>p[0] << 8) | p[1])


cdef inline uint32_t load_be32(const uint8_t* p) noexcept nogil:
    return ((<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) |
            (<uint32_t>p[2] << 8) | <uint32_t>p[3])


cdef inline uint16_t load_le16(const uint8_t* p) noexcept nogil:
    return <uint16_t>((<uint16_t>p[1] << 8) | p[0])


cdef inline uint32_t load_le32(const uint8_t* p) noexcept nogil:
    return ((<uint32_t>p[3] << 24) | (<uint32_t>p[2] << 16) |
            (<uint32_t>p[1] << 8) | <uint32_t>p[0])


cdef inline void store_be16(uint8_t* p, uint16_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 8)
    p[1] = <uint8_t>v


cdef inline void store_be32(uint8_t* p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 24)
    p[1] = <uint8_t>(v >> 16)
    p[2] = <uint8_t>(v >> 8)
    p[3] = <uint8_t>v


cdef inline void store_le16(uint8_t* p, uint16_t v) noexcept nogil:
    p[0] = <uint8_t>v
    p[1] = <uint8_t>(v >> 8)


cdef inline void store_le32(uint8_t* p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>v
    p[1] = <uint8_t>(v >> 8)
    p[2] = <uint8_t>(v >> 16)
    p[3] = <uint8_t>(v >> 24)


cdef inline uint64_t load_ne64(const uint8_t* p) noexcept nogil:
    # Native order, any alignment: memcpy of a constant size compiles to one mov.
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef inline uint32_t load_ne32(const uint8_t* p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v


cdef inline uint16_t bswap16(uint16_t v) noexcept nogil:
    return <uint16_t>((v >> 8) | (v << 8))


cdef inline bint host_is_little_endian() noexcept nogil:
    # Constant-folded by the C compiler.
    cdef uint16_t one = 1
    return (<uint8_t*>&one)[0] == 1
