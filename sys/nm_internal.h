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
};

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
