/*
 * pool.c — the process buffer pool, ring allocation, and the ownership audit.
 *
 * The default pool is one anonymous mapping of NM_DEF_NBUFS frames (NMBOX_POOL_BUFS
 * overrides), created on first use and registered as the AF_XDP UMEM by the first AF_XDP
 * port. Buffers move between a free stack and ring slots only when rings are created or
 * destroyed, or when an application takes spare buffers (nm_pool_get/put), so the stack's
 * mutex is never on the per-packet path.
 *
 * The audit walks everything that can name a buffer — the free stack and each ring's
 * user-owned slots — into a bitmap, so a buffer named twice is caught, and adds the
 * buffers that sit in kernel queues (AF_XDP fill and RX rings), which only the backend
 * can count. free + marked + kernel must be nbufs - 1 (buffer 0 is never used).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "nm_internal.h"

static struct nm_pool *default_pool;
static pthread_mutex_t default_pool_once = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t default_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t default_nfree;

static struct nm_pool *pool_create_default(void)
{
	uint32_t nbufs = NM_DEF_NBUFS;
	const char *env = getenv("NMBOX_POOL_BUFS");
	if (env) {
		long v = strtol(env, NULL, 0);
		if (v < 1024 || v > (1L << 22)) {
			nm_seterr("NMBOX_POOL_BUFS=%s: want 1024..4194304", env);
			errno = EINVAL;
			return NULL;
		}
		nbufs = (uint32_t)v;
	}
	struct nm_pool *pl = calloc(1, sizeof(*pl));
	uint32_t *stack = calloc(nbufs, sizeof(uint32_t));
	size_t size = (size_t)nbufs * NM_FRAME_SIZE;
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (!pl || !stack || mem == MAP_FAILED) {
		int e = errno ? errno : ENOMEM;
		free(pl);
		free(stack);
		if (mem != MAP_FAILED)
			munmap(mem, size);
		nm_seterr("buffer pool: cannot allocate %u buffers of %u bytes: %s", nbufs,
		          NM_FRAME_SIZE, strerror(e));
		errno = e;
		return NULL;
	}
	nm_pool_init(pl, mem, nbufs, NM_FRAME_SIZE, NM_HEADROOM, stack, &default_nfree,
	             &default_pool_lock);
	*pl->nfree = nm_stack_init(stack, nbufs);
	return pl;
}

void nm_pool_init(struct nm_pool *pl, char *base, uint32_t nbufs, uint32_t frame_size,
                  uint32_t headroom, uint32_t *stack, uint32_t *nfree, pthread_mutex_t *lock)
{
	pl->base = base;
	pl->size = (size_t)nbufs * frame_size;
	pl->frame_size = frame_size;
	pl->headroom = headroom;
	pl->nbufs = nbufs;
	pl->stack = stack;
	pl->nfree = nfree;
	pl->lock = lock;
}

uint32_t nm_stack_init(uint32_t *stack, uint32_t nbufs)
{
	uint32_t n = 0;
	for (uint32_t i = nbufs - 1; i >= 1; i--)
		stack[n++] = i;
	return n;
}

struct nm_pool *nm_pool_default(void)
{
	pthread_mutex_lock(&default_pool_once);
	if (!default_pool)
		default_pool = pool_create_default();
	struct nm_pool *pl = default_pool;
	pthread_mutex_unlock(&default_pool_once);
	return pl;
}

uint32_t nm_pool_nbufs(const struct nm_pool *pl)
{
	return pl->nbufs;
}

uint32_t nm_pool_buf_size(const struct nm_pool *pl)
{
	return pl->frame_size - pl->headroom;
}

char *nm_pool_buf(const struct nm_pool *pl, uint32_t idx)
{
	return pl->base + (size_t)idx * pl->frame_size + pl->headroom;
}

uint32_t nm_pool_get(struct nm_pool *pl)
{
	uint32_t idx = 0;
	pthread_mutex_lock(pl->lock);
	if (*pl->nfree > 0)
		idx = pl->stack[--*pl->nfree];
	pthread_mutex_unlock(pl->lock);
	return idx;
}

/* Pushes a valid buffer index on the free stack (lock held). */
static void pool_put_locked(struct nm_pool *pl, uint32_t idx)
{
	if (idx == 0 || idx >= pl->nbufs)
		return;
	if (*pl->nfree < pl->nbufs)
		pl->stack[(*pl->nfree)++] = idx;
}

void nm_pool_put(struct nm_pool *pl, uint32_t idx)
{
	pthread_mutex_lock(pl->lock);
	pool_put_locked(pl, idx);
	pthread_mutex_unlock(pl->lock);
}

void nm_slots_from_stack(struct nm_pool *pl, struct netmap_slot *slot, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		slot[i].buf_idx = pl->stack[--*pl->nfree];
		slot[i].len = 0;
		slot[i].flags = 0;
	}
}

void nm_slots_to_stack(struct nm_pool *pl, struct netmap_slot *slot, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		pool_put_locked(pl, slot[i].buf_idx);
		slot[i].buf_idx = 0;
	}
}

uint32_t nm_pool_free_count(struct nm_pool *pl)
{
	pthread_mutex_lock(pl->lock);
	uint32_t n = *pl->nfree;
	pthread_mutex_unlock(pl->lock);
	return n;
}

/* ---- rings ---- */

size_t nm_ring_bytes(uint32_t n)
{
	return sizeof(struct netmap_ring) + (size_t)n * sizeof(struct netmap_slot);
}

void nm_ring_init(struct netmap_ring *r, struct nm_pool *pl, uint32_t n, int dir, uint16_t ringid)
{
	memset(r, 0, nm_ring_bytes(n));
	/* The fields are const for the user; the backend sets them once, here. */
	*(int64_t *)&r->buf_ofs = (pl->base + pl->headroom) - (char *)r;
	*(uint32_t *)&r->num_slots = n;
	*(uint32_t *)&r->nr_buf_size = pl->frame_size;
	*(uint16_t *)&r->ringid = ringid;
	*(uint16_t *)&r->dir = (uint16_t)dir;
	r->head = r->cur = 0;
	/* An empty RX ring has tail == head; a TX ring starts with n - 1 free slots. */
	r->tail = dir == NR_TX ? n - 1 : 0;
}

struct netmap_ring *nm_ring_new(struct nm_pool *pl, uint32_t n, int dir, uint16_t ringid)
{
	struct netmap_ring *r = NULL;
	if (posix_memalign((void **)&r, NM_CACHE_ALIGN, nm_ring_bytes(n)))
		return NULL;
	nm_ring_init(r, pl, n, dir, ringid);
	return r;
}

void nm_ring_free(struct netmap_ring *r)
{
	free(r);
}

int nm_ring_fill(struct netmap_ring *r, struct nm_pool *pl)
{
	pthread_mutex_lock(pl->lock);
	if (*pl->nfree < r->num_slots) {
		pthread_mutex_unlock(pl->lock);
		return -ENOBUFS;
	}
	nm_slots_from_stack(pl, r->slot, r->num_slots);
	pthread_mutex_unlock(pl->lock);
	return 0;
}

void nm_ring_drain(struct netmap_ring *r, struct nm_pool *pl)
{
	pthread_mutex_lock(pl->lock);
	nm_slots_to_stack(pl, r->slot, r->num_slots);
	pthread_mutex_unlock(pl->lock);
}

int nm_rp_init(struct nmport *p, struct nm_ringpair *rp, const struct nm_ringpair_ops *ops,
               enum nm_backend backend, int qid, uint16_t ringid, uint32_t n, void *priv)
{
	rp->priv = priv;
	rp->ops = ops;
	rp->qid = qid;
	rp->backend = backend;
	rp->rx = nm_ring_new(p->pool, n, NR_RX, ringid);
	rp->tx = nm_ring_new(p->pool, n, NR_TX, ringid);
	if (!priv || !rp->rx || !rp->tx) {
		nm_seterr("%s: out of memory", p->spec);
		return -ENOMEM;
	}
	return 0;
}

int nm_rp_fill(struct nmport *p, struct nm_ringpair *rp)
{
	int rc = nm_ring_fill(rp->rx, p->pool);
	if (!rc)
		rc = nm_ring_fill(rp->tx, p->pool);
	if (rc)
		nm_seterr("%s: buffer pool exhausted; raise NMBOX_POOL_BUFS", p->spec);
	return rc;
}

void nm_rp_reset(struct nm_ringpair *rp)
{
	rp->rx = rp->tx = NULL;
	rp->priv = NULL;
	rp->ops = NULL;
	rp->fd = -1;
}

void nm_rp_release(struct nmport *p, struct nm_ringpair *rp)
{
	struct netmap_ring *rings[2] = {rp->rx, rp->tx};
	for (int i = 0; i < 2; i++) {
		if (rings[i]) {
			nm_ring_drain(rings[i], p->pool);
			nm_ring_free(rings[i]);
		}
	}
	nm_rp_reset(rp);
}

/* ---- audit ---- */

void nm_rp_audit_all(struct nmport *p, struct nm_ringpair *rp, struct nm_audit *a)
{
	(void)p;
	const struct netmap_ring *rings[2] = {rp->rx, rp->tx};
	for (int k = 0; k < 2; k++)
		for (uint32_t i = 0; i < rings[k]->num_slots; i++)
			nm_audit_mark(a, rings[k]->slot[i].buf_idx);
}

void nm_audit_mark(struct nm_audit *a, uint32_t idx)
{
	if (idx == 0 || idx >= a->nbufs) {
		a->bad++;
		return;
	}
	if (a->seen[idx >> 3] & (1u << (idx & 7)))
		a->dups++;
	else
		a->marked++;
	a->seen[idx >> 3] |= (uint8_t)(1u << (idx & 7));
}

void nm_audit_slots(struct nm_audit *a, const struct netmap_ring *r, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i != to; i = nm_ring_next(r, i))
		nm_audit_mark(a, r->slot[i].buf_idx);
}

int nm_pool_audit(struct nm_pool *pl, struct nmport *const *ports, unsigned n, char *msg,
                  size_t msglen)
{
	if (pl->pipe)
		return nm_pipe_audit(pl, msg, msglen);
	struct nm_audit a = {.nbufs = pl->nbufs};
	a.seen = calloc(pl->nbufs / 8 + 1, 1);
	if (!a.seen)
		return -ENOMEM;
	pthread_mutex_lock(pl->lock);
	uint32_t nfree = *pl->nfree;
	for (uint32_t i = 0; i < nfree; i++)
		nm_audit_mark(&a, pl->stack[i]);
	pthread_mutex_unlock(pl->lock);
	for (unsigned k = 0; k < n; k++) {
		struct nmport *p = ports[k];
		if (!p || p->pool != pl)
			continue;
		for (unsigned r = 0; r < p->nrings; r++)
			p->ring[r].ops->audit(p, &p->ring[r], &a);
	}
	free(a.seen);
	uint32_t want = pl->nbufs - 1;
	int ok = a.dups == 0 && a.bad == 0 && a.marked + a.kernel == want;
	if (msg)
		snprintf(
		    msg, msglen,
		    "pool audit %s: %u buffers: %u free, %u in ring slots, %u in kernel queues, "
		    "%u named twice, %u invalid",
		    ok ? "ok" : "FAILED", want, nfree, a.marked - nfree, a.kernel, a.dups, a.bad);
	return ok ? 0 : -EUCLEAN;
}
