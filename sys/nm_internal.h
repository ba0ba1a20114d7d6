/*
 * nm_internal.h — what the backends of sys/ share and the application never sees.
 */
#ifndef NM_INTERNAL_H
#define NM_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include "nmport.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define NM_HEADROOM     256  /* where packet data starts in a frame (XDP_PACKET_HEADROOM) */
#define NM_FRAME_SIZE   2048 /* stride between buffers of the default pool */
#define NM_DEF_NBUFS    32768
#define NM_DEF_RINGSIZE 1024

/*
 * A pool of fixed-size frames. Buffer i's data starts at base + i * frame_size + headroom.
 * Buffer 0 is never handed out, so 0 can mean "no buffer". The free stack and its lock
 * live in process memory for the default pool and in shared memory for a pipe group.
 */
struct nm_pool {
	char *base;
	size_t size; /* bytes mapped at base */
	uint32_t frame_size, headroom, nbufs;
	uint32_t *stack; /* free buffer indices */
	uint32_t *nfree;
	pthread_mutex_t *lock;
	struct pipe_shm *pipe; /* non-NULL for a pipe group's pool */
	/* AF_XDP: the UMEM registered over the whole pool, and the fill/completion rings
	 * created with it, which the first socket must use. */
	void *umem;
	void *umem_fq, *umem_cq;
	int umem_rings_taken;
	uint32_t umem_users;
};

/* Describes a pool of nbufs frames at base, with its free stack, count and lock. */
void nm_pool_init(struct nm_pool *pl, char *base, uint32_t nbufs, uint32_t frame_size,
                  uint32_t headroom, uint32_t *stack, uint32_t *nfree, pthread_mutex_t *lock);
/* Puts buffers 1..nbufs-1 on an empty free stack, 1 on top (handed out from low addresses
 * up); returns how many (nbufs - 1). */
uint32_t nm_stack_init(uint32_t *stack, uint32_t nbufs);
/* With the pool's lock held: gives slots [0, n) buffers from the free stack (n must be
 * free), and takes their buffers back (slots that name none, or an invalid one, are
 * skipped), leaving them naming none. */
void nm_slots_from_stack(struct nm_pool *pl, struct netmap_slot *slot, uint32_t n);
void nm_slots_to_stack(struct nm_pool *pl, struct netmap_slot *slot, uint32_t n);

/* Per-port backends. Each opens one ring pair (queue qid, or -1) and fills rp. */
int nm_xdp_open(struct nmport *p, struct nm_ringpair *rp, int qid, const struct nmport_opts *o,
                int backend_forced);
int nm_packet_open(struct nmport *p, struct nm_ringpair *rp, int qid, const struct nmport_opts *o);
int nm_tap_open(struct nmport *p, struct nm_ringpair *rp, const struct nmport_opts *o);
int nm_pipe_open(struct nmport *p, const char *group, int pipe_id, int master,
                 const struct nmport_opts *o);
int nm_pipe_audit(struct nm_pool *pl, char *msg, size_t msglen);

/* Ring allocation: a netmap_ring of n slots whose NETMAP_BUF points into pool pl. With
 * mem == NULL it is malloc'ed (free with nm_ring_free); else built in mem (shared memory). */
struct netmap_ring *nm_ring_new(struct nm_pool *pl, uint32_t n, int dir, uint16_t ringid);
void nm_ring_init(struct netmap_ring *r, struct nm_pool *pl, uint32_t n, int dir, uint16_t ringid);
size_t nm_ring_bytes(uint32_t n);
void nm_ring_free(struct netmap_ring *r);
/* Gives a ring's slots buffers from the pool (all n slots); -ENOBUFS if the pool runs dry
 * (then nothing was taken). */
int nm_ring_fill(struct netmap_ring *r, struct nm_pool *pl);
/* Returns every slot's buffer to the pool. */
void nm_ring_drain(struct netmap_ring *r, struct nm_pool *pl);

/* Audit helpers: mark a buffer as seen; counts duplicates and out-of-range indices. */
struct nm_audit {
	uint8_t *seen;
	uint32_t nbufs, marked, dups, bad, kernel;
};
void nm_audit_mark(struct nm_audit *a, uint32_t idx);
/* Marks the buffers of slots [from, to) of r. */
void nm_audit_slots(struct nm_audit *a, const struct netmap_ring *r, uint32_t from, uint32_t to);

/* Sets up rp for a backend: its ops and priv, and two new rings of n slots (ring id
 * ringid). 0, or -ENOMEM with the message set; what was set up stays in rp for ops->close,
 * which must cope with a NULL priv. */
int nm_rp_init(struct nmport *p, struct nm_ringpair *rp, const struct nm_ringpair_ops *ops,
               enum nm_backend backend, int qid, uint16_t ringid, uint32_t n, void *priv);
/* Gives every slot of both rings a buffer; 0, or -ENOBUFS with the message set. */
int nm_rp_fill(struct nmport *p, struct nm_ringpair *rp);
/* Forgets rings, backend and fd of a closed pair (frees nothing). */
void nm_rp_reset(struct nm_ringpair *rp);

/* RX slots a backend may fill now: all those the user does not hold but one. */
static inline uint32_t nm_rx_room(const struct netmap_ring *r)
{
	return r->num_slots - 1 - nm_ring_dist(r, r->head, r->tail);
}

/* The end of an rxsync that filled the RX slots up to t: n packets, bytes in all, copies
 * of them copied by the backend. */
static inline void nm_rx_done(struct nm_ringpair *rp, uint32_t t, uint32_t n, uint64_t bytes,
                              uint32_t copies)
{
	rp->rx->tail = t;
	rp->st.rx_pkts += n;
	rp->st.rx_bytes += bytes;
	rp->st.rx_copies += copies;
}

/* The end of a txsync that passed the TX slots up to i, for a backend that is done with a
 * slot once passed (copied out, or swapped for a free buffer): they are free again at once.
 * n packets sent, bytes in all, copies of them copied by the backend. */
static inline void nm_tx_done(struct nm_ringpair *rp, uint32_t i, uint32_t n, uint64_t bytes,
                              uint32_t copies)
{
	rp->tx_hwcur = i;
	rp->tx->tail = i == 0 ? rp->tx->num_slots - 1 : i - 1;
	rp->st.tx_pkts += n;
	rp->st.tx_bytes += bytes;
	rp->st.tx_copies += copies;
}

/* For the copying backends (AF_PACKET, TAP), whose ring slots always own their buffers:
 * mark every slot of both rings (their ops .audit); drain and free both rings and reset the
 * pair. */
void nm_rp_audit_all(struct nmport *p, struct nm_ringpair *rp, struct nm_audit *a);
void nm_rp_release(struct nmport *p, struct nm_ringpair *rp);

/* The one error message of the last failed open (thread-local). */
void nm_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *nm_geterr(void);

/* Reads an interface's MAC and MTU into p. 0 or -errno. */
int nm_if_info(struct nmport *p, const char *ifname);
/* Number of RX queues the interface exposes (at least 1). */
int nm_if_nqueues(const char *ifname);

#endif /* NM_INTERNAL_H */
