/* Structures and constants shared by the XDP programs and fastpath's Python loader.
 *
 * fastpath/xdp/structs.py mirrors every struct here with ctypes; tests/xdp/test_layout.py holds
 * the two to the same sizes and offsets, compiled both by the host C compiler and by bcc (read
 * back from a BPF program). Change a struct here and there together.
 *
 * Tunables are in #ifndef blocks: the loader overrides them with -D.
 */
#ifndef FASTPATH_SHARED_H
#define FASTPATH_SHARED_H

#include <linux/types.h>

/* ---- tunables */
#ifndef FP_MAX_RULES
#define FP_MAX_RULES 1024          /* rule ids 0..FP_MAX_RULES-1 (0 and 1 are reserved) */
#endif
#ifndef FP_MAX_FLOWS
#define FP_MAX_FLOWS 65536         /* exact 5-tuple rules, per address family */
#endif
#ifndef FP_MAX_PREFIXES
#define FP_MAX_PREFIXES 16384      /* prefix rules, per trie */
#endif
#ifndef FP_MAX_QUEUES
#define FP_MAX_QUEUES 64           /* AF_XDP sockets, one per receive queue */
#endif
#ifndef FP_VLAN_MAX
#define FP_VLAN_MAX 2              /* VLAN tags walked before the network header */
#endif
#ifndef FP_IPV6_EXT_MAX
#define FP_IPV6_EXT_MAX 4          /* IPv6 extension headers walked before giving up on ports */
#endif

/* ---- what a rule does with a packet */
#define FP_ACTION_PASS     0       /* to the kernel's stack */
#define FP_ACTION_DROP     1
#define FP_ACTION_REDIRECT 2       /* to the AF_XDP socket of the packet's receive queue */

/* ---- what happened to a packet: the second index of the statistics */
#define FP_OUT_PASS      0
#define FP_OUT_DROP      1
#define FP_OUT_REDIRECT  2         /* delivered to an AF_XDP socket */
#define FP_OUT_FALLBACK  3         /* a redirect with no socket bound on the queue: to the kernel */
#define FP_OUTCOMES      4

/* ---- reserved rule ids */
#define FP_RULE_DEFAULT  0         /* IP packets no rule matched: config.default_action */
#define FP_RULE_OTHER    1         /* not IPv4/IPv6, or headers cut short: config.other_action */
#define FP_RULE_FIRST    2         /* first id for user rules */

/* ---- config.flags: which rule tables hold entries (empty ones are not looked up) */
#define FP_HAS_FLOW4   (1u << 0)
#define FP_HAS_FLOW6   (1u << 1)
#define FP_HAS_PORT    (1u << 2)
#define FP_HAS_DST4    (1u << 3)
#define FP_HAS_SRC4    (1u << 4)
#define FP_HAS_DST6    (1u << 5)
#define FP_HAS_SRC6    (1u << 6)
#define FP_HAS_SPORT   (1u << 7)   /* source-port rules (the port array's second half) */

/* ---- port rule table: an array indexed by ((proto_slot * 2) + direction) * 65536 + port */
#define FP_PORT_PROTO_TCP 0
#define FP_PORT_PROTO_UDP 1
#define FP_PORT_PROTOS    2
#define FP_PORT_DST       0
#define FP_PORT_SRC       1
#define FP_PORT_SLOTS     (FP_PORT_PROTOS * 2 * 65536)

struct fp_config {
    __u32 default_action;
    __u32 other_action;
    __u32 flags;
    __u32 generation;              /* bumped by the loader on every rule change */
};

/* A rule's verdict, the value of every rule table. In the port array, rule_id 0 means no
 * port rule, and flags say whether exact 5-tuple rules exist for this destination port (so
 * packets to other ports never pay for the 5-tuple hash lookup). */
struct fp_rule_value {
    __u32 rule_id;
    __u16 action;
    __u16 flags;
};

#define FP_PORT_FLOWS4 (1u << 0)   /* 5-tuple rules over IPv4 with this protocol and dport */
#define FP_PORT_FLOWS6 (1u << 1)   /* ... over IPv6 */

/* LPM trie keys: prefix length in bits, then the address in network order. */
struct fp_prefix4_key {
    __u32 prefixlen;
    __u8 addr[4];
};

struct fp_prefix6_key {
    __u32 prefixlen;
    __u8 addr[16];
};

/* Exact 5-tuple keys; addresses and ports in network order, padding zero. */
struct fp_flow4_key {
    __u8 saddr[4];
    __u8 daddr[4];
    __u16 sport;
    __u16 dport;
    __u8 proto;
    __u8 pad[3];
};

struct fp_flow6_key {
    __u8 saddr[16];
    __u8 daddr[16];
    __u16 sport;
    __u16 dport;
    __u8 proto;
    __u8 pad[3];
};

/* Per-CPU counters, indexed by rule_id * FP_OUTCOMES + outcome. */
struct fp_stats {
    __u64 packets;
    __u64 bytes;
};

/* ---- the fault injector (bpf/fault.c) */
#define FP_FAULT_MATCH_PROTO (1u << 0)  /* only packets of config.proto */
#define FP_FAULT_MATCH_DPORT (1u << 1)  /* only packets to config.dport (TCP/UDP) */

#define FP_FAULT_SEEN      0       /* packets the injector considered (they matched) */
#define FP_FAULT_DROPPED   1
#define FP_FAULT_CORRUPTED 2
#define FP_FAULT_IGNORED   3       /* did not match: passed untouched */
#define FP_FAULT_COUNTERS  4

struct fp_fault_config {
    __u64 drop_threshold;          /* drop when prandom_u32 < threshold (2^32 = always) */
    __u64 corrupt_threshold;       /* then corrupt when the next prandom_u32 < threshold */
    __u32 flags;
    __u16 corrupt_offset;          /* byte to flip, from the frame start (last byte if beyond) */
    __u8 proto;
    __u8 pad;
    __u16 dport;                   /* network order */
    __u16 pad2;
    __u32 pad3;
};

#endif /* FASTPATH_SHARED_H */
