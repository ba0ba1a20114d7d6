/*
 * rt.h — nmrouter's internals: the router object, ports, next hops, neighbors, workers,
 * and the burst engine. Only router/ includes this; api/ sees rt_ctl.h.
 *
 * DOC: how a burst flows
 *
 * The I/O layer (rt_io.c) turns up to RT_BURST received slots into struct rt_pkt (frame
 * pointer, length, port) and calls rt_burst(), which returns one struct rt_verdict per
 * packet: transmit on a port's data ring (the frame may have been rewritten in place,
 * including into an ICMP error or an ARP/ND reply), hand to a port's host ring, drop with a
 * reason, or "held" (the neighbor code took the buffer while an ARP/ND resolution runs).
 * The engine never touches a ring: the few things it needs from the I/O layer (steal a
 * buffer for the hold queue, send a frame it built, send a released held buffer) go through
 * struct rt_io_ops. That is what lets tests/router/test_rt_engine.c drive the whole engine
 * on synthetic frames.
 *
 * Per burst: classify and validate every frame; one batched LPM lookup per family; then
 * local delivery / TTL / egress MTU (ICMP Fragmentation Needed, IPv4 fragmentation, ICMPv6
 * Packet Too Big) / ICMP errors / neighbor / rewrite per packet. ICMP errors and echo
 * replies are built in place over the offending frame and routed like any packet.
 *
 * Concurrency: workers read the FIBs, the next-hop array and the neighbor table without
 * locks (liburcu QSBR: a quiescent state once per burst). The control thread and the
 * neighbor slow path serialize their writes with rt->ctl_lock / rt->neigh_lock.
 */
#ifndef RT_H
#define RT_H

#include <net/if.h>
#include <pthread.h>
#include <stdint.h>

#include "router/rt_ctl.h"
#include "router/rt_fib.h"

#define RT_MAX_PORTS   16
#define RT_MAX_ADDRS   8
#define RT_MAX_WORKERS 16
#define RT_BURST       256
#define RT_NH_MAX      65536
#define RT_NEIGH_MAX   16384 /* neighbor entries at once (static ones included) */
#define RT_NEIGH_SLOTS 32768 /* slots of the neighbor table: power of two, 2 * RT_NEIGH_MAX */
#define RT_HOLD_MAX    8     /* packets held per unresolved neighbor */
#define RT_BUF_ROOM    1600  /* bytes every frame buffer must have (ICMP errors grow a frame) */
#define RT_FRAG_MAX    64    /* fragments one IPv4 datagram may become (more: dropped, no_buf) */
#define RT_MTU_MIN     68    /* RFC 791: every IPv4 link carries 68 bytes unfragmented */
#define RT_MTU_MIN6    1280  /* RFC 8200 5: the IPv6 minimum link MTU */
#define RT_MTU_MAX     9000  /* largest "mtu" the config accepts */

#define RT_NEIGH_PROBES      3
#define RT_NEIGH_RETRANS_NS  1000000000ull  /* 1 s between probes */
#define RT_NEIGH_HOLDDOWN_NS 3000000000ull  /* a FAILED entry is retried after 3 s */
#define RT_NEIGH_STALE_NS    30000000000ull /* REACHABLE -> STALE (still used) */
#define RT_NEIGH_DELAY_NS    5000000000ull  /* DELAY -> PROBE (RFC 4861 DELAY_FIRST_PROBE_TIME) */
/* neighbor GC (Linux's neighbour table GC, README "Neighbors"): */
#define RT_NEIGH_GC_MIN      128            /* the periodic pass runs above this many entries */
#define RT_NEIGH_GC_STALE_NS 60000000000ull /* ...and reclaims STALE/FAILED idle this long */
#define RT_NEIGH_GC_FRESH_NS 5000000000ull  /* a full table may reclaim REACHABLE ones older */
#define RT_NEIGH_GC_BATCH    (RT_NEIGH_MAX / 16) /* slots a full table's GC frees at least */

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

struct rt_addr {
	uint8_t family, plen;
	uint8_t addr[16];
};

struct rt_port_io; /* rt_io.c */

struct rt_port {
	char name[IFNAMSIZ];
	char spec[64];
	uint8_t mac[6];
	uint8_t host_mac[6]; /* MAC of the host-side (TAP) device, for punted frames */
	uint32_t mtu;
	int host; /* has a host ring */
	unsigned naddrs;
	struct rt_addr addrs[RT_MAX_ADDRS];
	uint8_t v6ll[16]; /* link-local fe80::EUI-64 derived from mac */
	struct rt_port_io *io;
};

enum rt_nh_kind {
	RT_NH_FREE = 0,
	RT_NH_LOCAL,     /* one of our addresses: local delivery */
	RT_NH_CONNECTED, /* on-link: the destination itself is the neighbor */
	RT_NH_GW,        /* via gateway gw */
	RT_NH_BLACKHOLE,
};

struct rt_nh {
	uint8_t kind, family;
	uint16_t port;
	uint8_t gw[16];
	uint32_t refcnt; /* control thread only */
};

enum rt_nud_int {
	RT_NUD_NONE = 0xff, /* slot keyed, no state yet (or deleted, its held packets pending) */
};

struct rt_held {
	uint32_t buf; /* I/O layer's token for the buffer */
	uint16_t len;
	uint16_t port; /* port whose pool the buffer came from */
};

struct rt_neigh_ent {
	uint32_t seq; /* seqcount: odd while key, state or mac change; first member, never reset */
	uint8_t used; /* the slot holds an entry (key below valid); 0 ends a probe sequence */
	uint8_t family;
	uint8_t state; /* enum rt_nud or RT_NUD_NONE */
	uint8_t probes;
	uint16_t port;
	uint8_t mac[6];
	uint8_t addr[16];
	uint64_t t_changed, t_next; /* ns, CLOCK_MONOTONIC */
	uint8_t nhold;
	uint8_t hold_gen; /* bit i: hold[i] was built by the router (ICMP error, echo reply), so
	                     its release does not count as forwarded */
	struct rt_held hold[RT_HOLD_MAX];
};

struct rt_pkt {
	uint8_t *data; /* Ethernet header; the buffer has at least RT_BUF_ROOM bytes */
	uint16_t len;
	uint16_t port;
	uint8_t from_host; /* received on the host ring of port */
};

enum rt_action {
	RT_ACT_DROP = 0, /* reason in .reason (counted) */
	RT_ACT_TX,       /* send data[0..len) on .port's data ring */
	RT_ACT_HOST,     /* hand data[0..len) to .port's host ring */
	RT_ACT_HELD,     /* the hold queue took the buffer (io->steal was called) */
};

struct rt_verdict {
	uint8_t action;
	uint8_t reason; /* enum rt_drop when DROP */
	uint16_t port;
	uint16_t len;
	uint8_t fwd; /* TX of a forwarded packet: the I/O layer counts it in st.forwarded once it
	                is on the TX ring, or in drops[RT_DROP_TX_FULL] if it cannot be */
};

struct rt_worker;

/* What the engine asks of the I/O layer. Every call comes from the worker's own thread. */
struct rt_io_ops {
	/* Takes packet i of the current burst's buffer for the hold queue, putting a fresh
	 * buffer in its place. Returns a token for the held buffer, 0 if no buffer is free. */
	uint32_t (*steal)(struct rt_worker *w, unsigned i);
	/* Data address of a held buffer. */
	uint8_t *(*held_data)(struct rt_worker *w, const struct rt_held *h);
	/* Queues a held buffer for transmission on out_port (ownership passes). fwd: a forwarded
	 * packet, counted in st.forwarded once it is on the TX ring (else as tx_full). */
	void (*send_held)(struct rt_worker *w, const struct rt_held *h, unsigned out_port, int fwd);
	/* Returns a held buffer to its pool. */
	void (*free_held)(struct rt_worker *w, const struct rt_held *h);
	/* Copies a frame the engine built into a buffer and queues it on port (data ring). */
	void (*emit)(struct rt_worker *w, unsigned port, const uint8_t *frame, unsigned len);
	/* A free buffer (at least RT_BUF_ROOM bytes) from the pool of port, as a held buffer
	 * (rt_held.port = port) for held_data / send_held / free_held; 0 if the pool is empty. */
	uint32_t (*alloc)(struct rt_worker *w, unsigned port);
};

struct rt_worker {
	struct rt *rt;
	unsigned id;
	const struct rt_io_ops *ops;
	void *ctx;    /* the I/O layer's */
	uint64_t now; /* ns, CLOCK_MONOTONIC, set per burst */
	/* ICMP error token bucket (per worker, no atomics) */
	uint64_t icmp_tokens_milli, icmp_last;
	struct rt_stats st __attribute__((aligned(64)));
	/* burst scratch */
	uint32_t k4[RT_BURST], nh4[RT_BURST];
	uint16_t i4[RT_BURST];
	uint8_t k6[RT_BURST][16];
	uint32_t nh6[RT_BURST];
	uint16_t i6[RT_BURST];
	uint16_t gen[RT_BURST]; /* packets rewritten into ICMP/echo replies needing a route */
};

/* route store entry (control thread only) */
struct rt_rentry {
	uint8_t used, family, plen, proto;
	uint8_t dst[16];
	uint32_t nh;
};

struct rt_rtab {
	struct rt_rentry *e;
	size_t cap, n, nstatic; /* cap power of two */
};

struct rt_config; /* rt_config.c */

struct rt {
	unsigned nports;
	struct rt_port port[RT_MAX_PORTS];
	int first_host; /* first port with a host ring, -1 if none */

	struct rt_fib4 *fib4;
	struct rt_fib6 *fib6;
	struct rt_nh *nh; /* [RT_NH_MAX] */
	uint32_t nh_hint;
	struct rt_rtab rtab;

	struct rt_neigh_ent *neigh; /* [RT_NEIGH_SLOTS] */
	pthread_mutex_t neigh_lock;
	unsigned neigh_count;     /* entries in the table (neigh_lock) */
	uint64_t neigh_reclaimed; /* entries the GC has removed (neigh_lock) */
	pthread_mutex_t ctl_lock;
	uint64_t generation;

	uint32_t icmp_rate; /* ICMP errors per second per worker */
	uint32_t icmp_burst;

	unsigned nworkers;
	struct rt_worker *workers[RT_MAX_WORKERS];
	/* filled by the I/O layer for rt_link_walk (NULL: zero counters) */
	void (*link_stats)(struct rt *rt, unsigned port, struct rt_link *l);
	void *io_priv;
};

/* internal route protocol for our own /32 and /128 (not listed by rt_route_walk) */
#define RT_PROTO_LOCAL_INT 0x80

/* ---- rt_core.c ---- */
/* Creates a router with no ports. NULL + errno. */
struct rt *rt_create(void);
void rt_destroy(struct rt *rt);
/* Adds a port (before any route); returns its index or -errno. */
int rt_port_add(struct rt *rt, const char *name, const char *spec, const uint8_t mac[6],
                uint32_t mtu, int host);
/* Adds an address to a port, with its connected and local routes. */
int rt_port_addr_add(struct rt *rt, unsigned port, int family, const uint8_t *addr, unsigned plen,
                     char *err, size_t errlen);
int rt_port_by_name(const struct rt *rt, const char *name);
void rt_worker_init(struct rt_worker *w, struct rt *rt, unsigned id, const struct rt_io_ops *ops,
                    void *ctx);

/* neighbors (rt_core.c). Writers hold neigh_lock; they change an entry's key, state and mac
 * only between rt_neigh_write_begin and rt_neigh_write_end (the entry's seqcount). */
static inline void rt_neigh_write_begin(struct rt_neigh_ent *e)
{
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}
static inline void rt_neigh_write_end(struct rt_neigh_ent *e)
{
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
}
/* Lock-free (the workers' fast path): the state of the entry for the key (RT_NUD_NONE if
 * there is none) and its mac, read together with the key under the entry's seqcount, so the
 * mac is always that address's even while slots are reclaimed and reused. May miss an entry
 * that a concurrent delete is moving; the caller's slow path looks again under neigh_lock. */
int rt_neigh_lookup(const struct rt *rt, int family, const uint8_t *addr, unsigned port,
                    uint8_t mac[6]);
/* Under neigh_lock (or with no writer running): the slot of the key, -1 if none. */
int rt_neigh_find(const struct rt *rt, int family, const uint8_t *addr, unsigned port);
/* Under neigh_lock: the slot for the key, created (state RT_NUD_NONE) if missing. A full
 * table (RT_NEIGH_MAX entries) first reclaims unused entries (rt_neigh_gc_class, now: ns);
 * -ENOSPC if none is. Entries may move: slot numbers found before are stale. */
int rt_neigh_slot_locked(struct rt *rt, int family, const uint8_t *addr, unsigned port,
                         uint64_t now);
/* Under neigh_lock: removes the entry in slot idx (no held packets); entries after it may
 * move back (backward-shift deletion), so slot idx may hold another entry afterwards. */
void rt_neigh_remove_locked(struct rt *rt, unsigned idx);
/* What the GC may do with e at time now: 0 keep (PERMANENT, INCOMPLETE, DELAY, PROBE, held
 * packets, REACHABLE confirmed within RT_NEIGH_GC_FRESH_NS); 1 no state (deleted) or FAILED;
 * 2 STALE (unused since it was last confirmed); 3 REACHABLE confirmed longer ago. A full
 * table reclaims class 1, then 2, then 3; the periodic pass classes 1 and 2 when idle. */
int rt_neigh_gc_class(const struct rt_neigh_ent *e, uint64_t now);
/* Reads state and mac of slot idx consistently (its key not checked: for a slot found under
 * neigh_lock or with no writer running); returns state (or RT_NUD_NONE). */
int rt_neigh_read(const struct rt *rt, int idx, uint8_t mac[6]);

/* ---- rt_engine.c ---- */
/* Processes p[0..n), n <= RT_BURST; fills v[0..n). w->now must be current. */
void rt_burst(struct rt_worker *w, struct rt_pkt *p, unsigned n, struct rt_verdict *v);
/* Neighbor timers: probes (INCOMPLETE, PROBE), DELAY -> PROBE, REACHABLE -> STALE, expiry with
 * ICMP unreachable for the held packets; the periodic GC (above RT_NEIGH_GC_MIN entries: STALE
 * and FAILED ones idle RT_NEIGH_GC_STALE_NS; deleted ones always). Call from one worker,
 * ~every 100ms. */
void rt_neigh_tick(struct rt_worker *w);
/* Learns addr -> mac on port (ARP/ND or static) and releases held packets via w (may be
 * NULL for the control thread: then held packets are sent by nobody and freed later). mac NULL:
 * a confirmation (solicited NA without a target link-layer address) of a usable entry's MAC. */
void rt_neigh_learn(struct rt *rt, struct rt_worker *w, int family, const uint8_t *addr,
                    unsigned port, const uint8_t mac[6], int state, int create);
uint64_t rt_now_ns(void);

#endif /* RT_H */
