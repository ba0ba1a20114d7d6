/*
 * nmport.h — the nmbox port layer: netmap rings on Linux without the netmap module.
 *
 * A port is opened from a netmap-style spec and gives the application netmap rings
 * (net/netmap.h). Behind each ring pair sits one backend:
 *
 *   netmap:IF        every queue of IF: AF_XDP (one socket per queue), else AF_PACKET
 *   netmap:IF-N      queue N of IF only
 *   netmap:IF^       the host rings of IF: a TAP device standing for IF in the host stack
 *   netmap:IF*       the hardware rings of IF, then its host ring as the last ring
 *   netmap:NAME{N    master end of pipe N of pipe group NAME (shared memory)
 *   netmap:NAME}N    slave end of the same pipe (may live in another process)
 *
 * Suffix options after '/': "/xdp" forces AF_XDP, "/packet" AF_PACKET, "/skb" generic XDP,
 * "/drv" native XDP. The same can be set in struct nmport_opts.
 *
 * Buffers: all ports of a process that are not pipes share one pool (nm_pool_default());
 * for AF_XDP that pool is the UMEM shared by every socket, so swapping buf_idx between
 * rings of two such ports is zero copy. Pipes of one group share that group's pool in
 * shared memory. Two ports can swap buffers iff nmport_same_pool() says so.
 *
 * Errors: constructors return NULL and set errno; nmport_errmsg() holds a one-line
 * message that names the spec and the way out. Actions return 0 or -errno.
 * nmport_close(NULL) is safe. Nothing here prints except the one line per opened port
 * (unless opts.quiet) and rate-limited warnings.
 *
 * Threads: each ring pair may be driven by its own thread; a ring must not be synced by
 * two threads at once. nm_pool_get/put are thread-safe.
 */
#ifndef NMPORT_H
#define NMPORT_H

#ifndef IFNAMSIZ
#define IFNAMSIZ 16 /* as in <net/if.h>, which clashes with <linux/if.h> */
#endif
#include <poll.h>
#include <stdint.h>
#include "net/netmap_user.h"

#define NMPORT_MAX_RINGS 16
#define NMPORT_ERRLEN    256

enum nm_backend {
	NM_BE_AUTO = 0, /* AF_XDP if it works on the interface, else AF_PACKET */
	NM_BE_XDP,
	NM_BE_PACKET,
	NM_BE_TAP,
	NM_BE_PIPE,
};

enum nm_xdp_mode {
	NM_XDP_AUTO = 0, /* native if the driver has it, else generic */
	NM_XDP_DRV,
	NM_XDP_SKB,
};

struct nmport_opts {
	enum nm_backend backend; /* force a backend for IF specs (XDP or PACKET) */
	enum nm_xdp_mode xdp_mode;
	uint32_t ring_size; /* slots per ring; 0 = default (1024) */
	uint32_t pipe_bufs; /* buffers of a new pipe group; 0 = default */
	int quiet;          /* do not print the "opened" line */
};

/* Counters of a ring pair, written only by the thread that syncs it. */
struct nmport_ring_stats {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts, tx_bytes;
	uint64_t rx_copies; /* packets copied into a pool buffer by the backend (not zero copy) */
	uint64_t tx_copies;
	uint64_t tx_kicks;   /* wakeup syscalls */
	uint64_t rx_dropped; /* reported by the kernel: ring full, no fill buffers, ... */
	uint64_t tx_errors;  /* frames the backend could not send (too long, send error) */
};

struct nm_pool;
struct nm_audit;
struct nm_ringpair_ops;

/* One ring pair: RX ring i and TX ring i of a port, and the backend behind them. */
struct nm_ringpair {
	struct netmap_ring *rx, *tx;
	int fd;  /* pollable for this pair, or -1 (pipes: use nmport_poll) */
	int qid; /* hardware queue, -1 for host rings and pipes */
	enum nm_backend backend;
	const struct nm_ringpair_ops *ops;
	void *priv;
	uint32_t rx_hwcur, tx_hwcur; /* where the backend saw head at the last sync */
	struct nmport_ring_stats st;
	uint64_t kernel_drops; /* AF_PACKET drops summed by nmport_stats (it resets them) */
};

struct nmport {
	char spec[IFNAMSIZ + 32];
	char ifname[IFNAMSIZ]; /* interface, TAP device, or pipe group name */
	char mode[64];         /* what was chosen, e.g. "AF_XDP native copy" */
	int ifindex;           /* 0 for pipes */
	uint8_t mac[6];
	uint32_t mtu;
	unsigned nrings; /* ring pairs in ring[]; the host ring, if any, is last */
	int host_ring;   /* index of the host ring pair, or -1 */
	struct nm_pool *pool;
	struct nm_ringpair ring[NMPORT_MAX_RINGS];
};

/* ---- ports ---- */

/* Opens a port. NULL + errno on failure; nmport_errmsg() says why. */
struct nmport *nmport_open(const char *spec, const struct nmport_opts *opts);
void nmport_close(struct nmport *p);
const char *nmport_errmsg(void);
/* The name of the TAP device that stands for IF's host rings (IF^): "nmh-IF", or
 * $NMBOX_TAP_NAME when set; out has IFNAMSIZ bytes. */
void nmport_tap_name(const char *ifname, char *out);

/*
 * rxsync: gives back RX slots the user released ([old head, head)) and appends newly
 * received packets at tail. txsync: sends the slots the user released since the last
 * txsync and moves tail on over completed ones. Both 0 or -errno; never block.
 */
static inline int nmport_rxsync(struct nmport *p, unsigned r);
static inline int nmport_txsync(struct nmport *p, unsigned r);

static inline struct netmap_ring *nmport_rxring(struct nmport *p, unsigned r)
{
	return p->ring[r].rx;
}
static inline struct netmap_ring *nmport_txring(struct nmport *p, unsigned r)
{
	return p->ring[r].tx;
}

/* 1 iff buffers of a and b are in one pool, so slots may swap buf_idx. */
int nmport_same_pool(const struct nmport *a, const struct nmport *b);

/*
 * Waits until a ring is readable/writable. For each entry: POLLIN asks for received
 * packets on RX ring `ring` (rxsync is done for you), POLLOUT for free TX slots (txsync is
 * done for you). Returns the number of entries with revents set, 0 on timeout, -errno.
 * timeout_ms < 0 waits forever. Rings without an fd (pipes) are checked every 100 us.
 */
struct nmport_pollent {
	struct nmport *port;
	unsigned ring;
	short events, revents;
};
int nmport_poll(struct nmport_pollent *ents, unsigned n, int timeout_ms);

/* Sums the ring counters of a port. */
void nmport_stats(const struct nmport *p, struct nmport_ring_stats *out);

/* ---- the buffer pool ---- */

struct nm_pool *nm_pool_default(void); /* created on first use, NULL + errno on failure */
uint32_t nm_pool_nbufs(const struct nm_pool *pl);
uint32_t nm_pool_buf_size(const struct nm_pool *pl); /* usable bytes of a buffer */
/* Takes a free buffer (thread-safe): its index, or 0 if none is left (0 is never valid). */
uint32_t nm_pool_get(struct nm_pool *pl);
void nm_pool_put(struct nm_pool *pl, uint32_t idx);
uint32_t nm_pool_free_count(struct nm_pool *pl);
/* Data address of buffer idx, as NETMAP_BUF would give for a ring of this pool. */
char *nm_pool_buf(const struct nm_pool *pl, uint32_t idx);

/*
 * The ownership audit: free buffers + buffers held by the given ports' rings (slots and
 * kernel queues) must equal the pool size. Returns 0 if it holds, else -EUCLEAN and, if
 * msg is not NULL, writes the counts into it. Call with the rings quiescent.
 */
int nm_pool_audit(struct nm_pool *pl, struct nmport *const *ports, unsigned n, char *msg,
                  size_t msglen);

/* ---- the backend interface (sys/ internal, here so the sync calls inline) ---- */

struct nm_ringpair_ops {
	int (*rxsync)(struct nmport *p, struct nm_ringpair *rp);
	int (*txsync)(struct nmport *p, struct nm_ringpair *rp);
	/* marks the buffers this pair owns in its slots, counts those in kernel queues */
	void (*audit)(struct nmport *p, struct nm_ringpair *rp, struct nm_audit *a);
	void (*close)(struct nmport *p, struct nm_ringpair *rp);
};

static inline int nmport_rxsync(struct nmport *p, unsigned r)
{
	return p->ring[r].ops->rxsync(p, &p->ring[r]);
}

static inline int nmport_txsync(struct nmport *p, unsigned r)
{
	return p->ring[r].ops->txsync(p, &p->ring[r]);
}

#endif /* NMPORT_H */
