/*
 * netmap_user.h — inline helpers for walking netmap rings from userspace.
 *
 * Ring arithmetic is modulo num_slots; all helpers are branch-light and inline so a
 * forwarding loop that uses them compiles to plain index updates. Typical RX loop:
 *
 *	uint32_t i = ring->head, n = nm_ring_space(ring);
 *	while (n--) {
 *		struct netmap_slot *s = &ring->slot[i];
 *		char *p = NETMAP_BUF(ring, s->buf_idx);
 *		...
 *		i = nm_ring_next(ring, i);
 *	}
 *	ring->head = ring->cur = i;	// once per burst
 */
#ifndef NM_NET_NETMAP_USER_H
#define NM_NET_NETMAP_USER_H

#include <stddef.h>
#include <stdint.h>
#include "net/netmap.h"

/* Address of the data of buffer `index` as seen through `ring`. */
#define NETMAP_BUF(ring, index)                                                                    \
	((char *)(ring) + (ring)->buf_ofs + ((size_t)(index) * (ring)->nr_buf_size))

/* Index of the buffer whose data starts at `buf` (the inverse of NETMAP_BUF). */
#define NETMAP_BUF_IDX(ring, buf)                                                                  \
	((uint32_t)(((char *)(buf) - ((char *)(ring) + (ring)->buf_ofs)) / (ring)->nr_buf_size))

/* Slot after i, wrapping. */
static inline uint32_t nm_ring_next(const struct netmap_ring *r, uint32_t i)
{
	return (i + 1 == r->num_slots) ? 0 : i + 1;
}

/* Slot n after i, wrapping (n < num_slots). */
static inline uint32_t nm_ring_add(const struct netmap_ring *r, uint32_t i, uint32_t n)
{
	i += n;
	return i >= r->num_slots ? i - r->num_slots : i;
}

/* Slots the user may use now: received packets (RX) or free slots (TX). */
static inline uint32_t nm_ring_space(const struct netmap_ring *r)
{
	int64_t d = (int64_t)r->tail - (int64_t)r->head;
	return (uint32_t)(d < 0 ? d + r->num_slots : d);
}

static inline int nm_ring_empty(const struct netmap_ring *r)
{
	return r->head == r->tail;
}

/* Slots from a to b (b after a), wrapping. */
static inline uint32_t nm_ring_dist(const struct netmap_ring *r, uint32_t a, uint32_t b)
{
	return b >= a ? b - a : b + r->num_slots - a;
}

/* Releases slots up to (not including) i back to the backend: head and cur together. */
static inline void nm_ring_advance(struct netmap_ring *r, uint32_t i)
{
	r->head = r->cur = i;
}

/* Exchanges the buffers of two slots: the zero-copy move between rings of one pool. */
static inline void nm_slot_swap(struct netmap_slot *a, struct netmap_slot *b)
{
	uint32_t t = a->buf_idx;
	a->buf_idx = b->buf_idx;
	b->buf_idx = t;
	a->flags |= NS_BUF_CHANGED;
	b->flags |= NS_BUF_CHANGED;
}

#endif /* NM_NET_NETMAP_USER_H */
