"""Golden frames shared by the wire tests. Each was checked with tshark 4.0 (checksum
validation on): every checksum below is good, every field as the comments say."""

ETH_SRC = bytes.fromhex("020000000001")
ETH_DST = bytes.fromhex("020000000002")

# Ethernet / IPv4 10.0.0.1 -> 10.0.0.2, DF, TTL 64 / TCP 1234 -> 80 SYN seq 1,
# MSS 1460, SACK-permitted, timestamps (1, 0), NOP + window scale 7, payload "hello".
TCP_SYN_FRAME = bytes.fromhex(
    "020000000002" "020000000001" "0800"
    "45000041" "00004000" "400626b5" "0a000001" "0a000002"
    "04d20050" "00000001" "00000000" "a002ffff" "eb020000"
    "020405b4" "0402080a" "00000001" "00000000" "01030307"
    "68656c6c6f"
)
TCP_SYN_IP_OFF = 14
TCP_SYN_TCP_OFF = 34
TCP_SYN_PAYLOAD_OFF = 74
