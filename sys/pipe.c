/*
 * pipe.c — netmap pipes: zero-copy ring pairs in shared memory, across processes.
 *
 * A pipe group NAME is one POSIX shared-memory object (/dev/shm/nmbox-pipe-NAME) holding
 * the group's buffer pool, up to PIPE_MAX pipes, and for every pipe two one-way queues
 * and the rings of its two ends. `netmap:NAME{N` is the master end of pipe N,
 * `netmap:NAME}N` the slave end; the ends may be in different processes, and every pipe
 * of a group (both ends) shares the group's pool, so a process that opens NAME{0 and
 * NAME{1 can swap buffers between them.
 *
 * A queue is a single-producer single-consumer ring of N slots that always hold N
 * buffers. txsync swaps each released TX slot with the queue slot at `prod` (the TX slot
 * gets the free buffer the reader left there) and publishes prod with a release store;
 * rxsync swaps the queue slot at `cons` with the RX slot at tail (a released, hence free,
 * buffer) and publishes cons. No packet is ever copied, no lock is taken, no syscall is
 * made. A queue that is full makes txsync leave the rest for later (TX tail stops).
 *
 * Pipes have no file descriptor to poll: nmport_poll() checks them every 100 us.
 * The object is removed when the last end closes (ends record their pid, so an end left
 * by a crashed process is reclaimed by the next opener).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "nm_internal.h"

#define PIPE_MAGIC 0x6e6d5049u
#define PIPE_MAX   8

struct pipe_q {
	_Atomic uint32_t prod;
	uint8_t pad1[NM_CACHE_ALIGN - 4];
	_Atomic uint32_t cons;
	uint8_t pad2[NM_CACHE_ALIGN - 4];
	struct netmap_slot slot[];
};

struct pipe_shm {
	uint32_t magic;
	_Atomic uint32_t ready;
	uint32_t nslots, nbufs, frame_size, headroom;
	uint64_t q_bytes, ring_bytes;
	uint64_t off_q, off_rings, off_stack, off_bufs, total;
	pthread_mutex_t lock;
	uint32_t nfree;
	struct {
		uint32_t qinit;
		int32_t pid[2]; /* [0] master, [1] slave; 0 = closed */
	} pipe[PIPE_MAX];
};

/* A group mapped in this process, shared by all its open ends here. */
struct pipe_group {
	struct pipe_group *next;
	char name[IFNAMSIZ];
	int users;
	struct pipe_shm *shm;
	struct nm_pool pool;
};

struct pipe_rp {
	struct pipe_group *g;
	int id, master;
	struct pipe_q *qin, *qout;
	uint32_t n;
};

static struct pipe_group *groups;
static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;

static inline struct pipe_q *pipe_queue(struct pipe_shm *s, int id, int dir)
{
	return (void *)((char *)s + s->off_q + (uint64_t)(id * 2 + dir) * s->q_bytes);
}

/* Ring of pipe id, end (0 master, 1 slave), dir (NR_RX / NR_TX). */
static inline struct netmap_ring *pipe_ring(struct pipe_shm *s, int id, int end, int dir)
{
	return (void *)((char *)s + s->off_rings +
	                (uint64_t)((id * 2 + end) * 2 + dir) * s->ring_bytes);
}

static void shm_name(const char *group, char *out, size_t len)
{
	snprintf(out, len, "/nmbox-pipe-%s", group);
}

static int lock_shm(struct pipe_shm *s)
{
	int rc = pthread_mutex_lock(&s->lock);
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(&s->lock);
		rc = 0;
	}
	return rc;
}

static int pid_alive(int32_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* ---- mapping a group ---- */

static int create_or_attach(const char *name, uint32_t nslots, struct pipe_shm **out, int *created)
{
	char path[64];
	shm_name(name, path, sizeof(path));
	uint32_t nbufs = PIPE_MAX * 6 * nslots + 1;
	uint64_t q_bytes =
	    (sizeof(struct pipe_q) + nslots * sizeof(struct netmap_slot) + 127) & ~127ull;
	uint64_t ring_bytes = (nm_ring_bytes(nslots) + 127) & ~127ull;
	uint64_t off_q = (sizeof(struct pipe_shm) + 127) & ~127ull;
	uint64_t off_rings = off_q + q_bytes * PIPE_MAX * 2;
	uint64_t off_stack = off_rings + ring_bytes * PIPE_MAX * 4;
	uint64_t off_bufs = (off_stack + (uint64_t)nbufs * 4 + 4095) & ~4095ull;
	uint64_t total = off_bufs + (uint64_t)nbufs * NM_FRAME_SIZE;

	*created = 0;
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		*created = 1;
		if (ftruncate(fd, (off_t)total) < 0) {
			int e = errno;
			close(fd);
			shm_unlink(path);
			return -e;
		}
	} else if (errno == EEXIST) {
		fd = shm_open(path, O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		/* Wait (bounded) for the creator to size it. */
		struct stat st = {0};
		for (int i = 0; i < 1000; i++) {
			if (fstat(fd, &st) == 0 && st.st_size > 0)
				break;
			usleep(1000);
		}
		if (st.st_size <= 0) {
			close(fd);
			return -ETIMEDOUT;
		}
		total = (uint64_t)st.st_size;
	} else {
		return -errno;
	}
	void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	struct pipe_shm *s = m;
	if (*created) {
		s->magic = PIPE_MAGIC;
		s->nslots = nslots;
		s->nbufs = nbufs;
		s->frame_size = NM_FRAME_SIZE;
		s->headroom = NM_HEADROOM;
		s->q_bytes = q_bytes;
		s->ring_bytes = ring_bytes;
		s->off_q = off_q;
		s->off_rings = off_rings;
		s->off_stack = off_stack;
		s->off_bufs = off_bufs;
		s->total = total;
		pthread_mutexattr_t a;
		pthread_mutexattr_init(&a);
		pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
		pthread_mutex_init(&s->lock, &a);
		pthread_mutexattr_destroy(&a);
		s->nfree = nm_stack_init((uint32_t *)((char *)s + off_stack), nbufs);
		atomic_store_explicit(&s->ready, 1, memory_order_release);
	} else {
		for (int i = 0; i < 1000 && !atomic_load_explicit(&s->ready, memory_order_acquire);
		     i++)
			usleep(1000);
		if (s->magic != PIPE_MAGIC || !atomic_load(&s->ready) || s->total != total) {
			munmap(m, total);
			return -EPROTO;
		}
	}
	*out = s;
	return 0;
}

static struct pipe_group *group_get(const char *name, uint32_t nslots, int *rc)
{
	struct pipe_group *g;
	pthread_mutex_lock(&groups_lock);
	for (g = groups; g; g = g->next)
		if (!strcmp(g->name, name))
			break;
	if (!g) {
		struct pipe_shm *s = NULL;
		int created;
		*rc = create_or_attach(name, nslots, &s, &created);
		if (*rc) {
			pthread_mutex_unlock(&groups_lock);
			return NULL;
		}
		g = calloc(1, sizeof(*g));
		if (!g) {
			munmap(s, s->total);
			*rc = -ENOMEM;
			pthread_mutex_unlock(&groups_lock);
			return NULL;
		}
		snprintf(g->name, sizeof(g->name), "%s", name);
		g->shm = s;
		nm_pool_init(&g->pool, (char *)s + s->off_bufs, s->nbufs, s->frame_size,
		             s->headroom, (uint32_t *)((char *)s + s->off_stack), &s->nfree,
		             &s->lock);
		g->pool.pipe = s;
		g->next = groups;
		groups = g;
	}
	g->users++;
	pthread_mutex_unlock(&groups_lock);
	*rc = 0;
	return g;
}

static void group_put(struct pipe_group *g)
{
	pthread_mutex_lock(&groups_lock);
	if (--g->users == 0) {
		struct pipe_group **pp;
		for (pp = &groups; *pp != g; pp = &(*pp)->next)
			;
		*pp = g->next;
		/* Remove the object when no end of any pipe is open anywhere. */
		struct pipe_shm *s = g->shm;
		int alive = 0;
		lock_shm(s);
		for (int i = 0; i < PIPE_MAX; i++)
			for (int e = 0; e < 2; e++)
				alive |= pid_alive(s->pipe[i].pid[e]);
		if (!alive) {
			char path[64];
			shm_name(g->name, path, sizeof(path));
			shm_unlink(path);
		}
		pthread_mutex_unlock(&s->lock);
		munmap(s, s->total);
		free(g);
	}
	pthread_mutex_unlock(&groups_lock);
}

/* ---- sync ---- */

/* Moves a packet between a ring slot and a queue slot: `to` takes the buffer and length of
 * `from`, and `from` the buffer `to` had (a free one). */
static inline void pipe_pass(struct netmap_slot *from, struct netmap_slot *to)
{
	uint32_t b = to->buf_idx;
	to->buf_idx = from->buf_idx;
	to->len = from->len;
	from->buf_idx = b;
}

static int pipe_rxsync(struct nmport *p, struct nm_ringpair *rp)
{
	struct pipe_rp *x = rp->priv;
	struct netmap_ring *r = rp->rx;
	struct pipe_q *q = x->qin;
	uint32_t mask = x->n - 1;
	(void)p;

	rp->rx_hwcur = r->head;
	uint32_t space = nm_rx_room(r);
	uint32_t cons = atomic_load_explicit(&q->cons, memory_order_relaxed);
	uint32_t avail = atomic_load_explicit(&q->prod, memory_order_acquire) - cons;
	uint32_t n = avail < space ? avail : space;
	if (!n)
		return 0;
	uint32_t t = r->tail;
	uint64_t bytes = 0;
	for (uint32_t k = 0; k < n; k++) {
		struct netmap_slot *s = &r->slot[t];
		pipe_pass(&q->slot[cons++ & mask], s);
		s->flags = 0;
		bytes += s->len;
		t = nm_ring_next(r, t);
	}
	atomic_store_explicit(&q->cons, cons, memory_order_release);
	nm_rx_done(rp, t, n, bytes, 0);
	return 0;
}

static int pipe_txsync(struct nmport *p, struct nm_ringpair *rp)
{
	struct pipe_rp *x = rp->priv;
	struct netmap_ring *r = rp->tx;
	struct pipe_q *q = x->qout;
	uint32_t mask = x->n - 1;
	(void)p;

	uint32_t pending = nm_ring_dist(r, rp->tx_hwcur, r->head);
	if (!pending)
		return 0;
	uint32_t prod = atomic_load_explicit(&q->prod, memory_order_relaxed);
	uint32_t room = x->n - (prod - atomic_load_explicit(&q->cons, memory_order_acquire));
	uint32_t n = pending < room ? pending : room;
	uint32_t i = rp->tx_hwcur;
	uint64_t bytes = 0;
	for (uint32_t k = 0; k < n; k++) {
		struct netmap_slot *s = &r->slot[i];
		pipe_pass(s, &q->slot[prod++ & mask]);
		s->flags = 0;
		bytes += s->len;
		i = nm_ring_next(r, i);
	}
	atomic_store_explicit(&q->prod, prod, memory_order_release);
	nm_tx_done(rp, i, n, bytes, 0);
	return 0;
}

static void pipe_audit_rp(struct nmport *p, struct nm_ringpair *rp, struct nm_audit *a)
{
	/* Pipe pools are audited as a whole, from shared memory (nm_pipe_audit). */
	(void)p;
	(void)rp;
	(void)a;
}

static void pipe_end_release(struct pipe_shm *s, struct nm_pool *pl, int id, int end)
{
	nm_slots_to_stack(pl, pipe_ring(s, id, end, NR_RX)->slot, s->nslots);
	nm_slots_to_stack(pl, pipe_ring(s, id, end, NR_TX)->slot, s->nslots);
	s->pipe[id].pid[end] = 0;
	if (s->pipe[id].qinit && !s->pipe[id].pid[!end]) {
		for (int d = 0; d < 2; d++) {
			struct pipe_q *q = pipe_queue(s, id, d);
			nm_slots_to_stack(pl, q->slot, s->nslots);
			atomic_store(&q->prod, 0);
			atomic_store(&q->cons, 0);
		}
		s->pipe[id].qinit = 0;
	}
}

static void pipe_close(struct nmport *p, struct nm_ringpair *rp)
{
	struct pipe_rp *x = rp->priv;
	if (x) {
		struct pipe_shm *s = x->g->shm;
		lock_shm(s);
		pipe_end_release(s, &x->g->pool, x->id, !x->master);
		pthread_mutex_unlock(&s->lock);
		group_put(x->g);
		free(x);
	}
	(void)p;
	nm_rp_reset(rp);
}

static const struct nm_ringpair_ops pipe_ops = {
    .rxsync = pipe_rxsync,
    .txsync = pipe_txsync,
    .audit = pipe_audit_rp,
    .close = pipe_close,
};

int nm_pipe_open(struct nmport *p, const char *group, int id, int master,
                 const struct nmport_opts *o)
{
	int rc;
	int end = master ? 0 : 1;
	if (id >= PIPE_MAX) {
		nm_seterr("%s: pipe %d: a group has pipes 0..%d", p->spec, id, PIPE_MAX - 1);
		return -EINVAL;
	}
	struct pipe_group *g = group_get(group, o->ring_size, &rc);
	if (!g) {
		nm_seterr("%s: shared memory /dev/shm/nmbox-pipe-%s: %s", p->spec, group,
		          strerror(-rc));
		return rc;
	}
	struct pipe_shm *s = g->shm;
	struct nm_pool *pl = &g->pool;
	lock_shm(s);
	int32_t other = s->pipe[id].pid[end];
	if (other && pid_alive(other) && other != getpid()) {
		pthread_mutex_unlock(&s->lock);
		group_put(g);
		nm_seterr("%s: this end is already open in process %d", p->spec, other);
		return -EBUSY;
	}
	if (other && (other == getpid() || !pid_alive(other))) {
		if (other == getpid()) {
			pthread_mutex_unlock(&s->lock);
			group_put(g);
			nm_seterr("%s: this end is already open in this process", p->spec);
			return -EBUSY;
		}
		pipe_end_release(s, pl, id, end); /* left by a dead process */
	}
	uint32_t n = s->nslots;
	uint32_t need = 2 * n + (s->pipe[id].qinit ? 0 : 2 * n);
	if (s->nfree < need) {
		pthread_mutex_unlock(&s->lock);
		group_put(g);
		nm_seterr("%s: pipe group out of buffers", p->spec);
		return -ENOBUFS;
	}
	if (!s->pipe[id].qinit) {
		for (int d = 0; d < 2; d++) {
			struct pipe_q *q = pipe_queue(s, id, d);
			atomic_store(&q->prod, 0);
			atomic_store(&q->cons, 0);
			nm_slots_from_stack(pl, q->slot, n);
		}
		s->pipe[id].qinit = 1;
	}
	struct netmap_ring *rx = pipe_ring(s, id, end, NR_RX);
	struct netmap_ring *tx = pipe_ring(s, id, end, NR_TX);
	nm_ring_init(rx, pl, n, NR_RX, 0);
	nm_ring_init(tx, pl, n, NR_TX, 0);
	nm_slots_from_stack(pl, rx->slot, n);
	nm_slots_from_stack(pl, tx->slot, n);
	s->pipe[id].pid[end] = getpid();
	pthread_mutex_unlock(&s->lock);

	struct pipe_rp *x = calloc(1, sizeof(*x));
	if (!x) {
		lock_shm(s);
		pipe_end_release(s, pl, id, end);
		pthread_mutex_unlock(&s->lock);
		group_put(g);
		nm_seterr("%s: out of memory", p->spec);
		return -ENOMEM;
	}
	x->g = g;
	x->id = id;
	x->master = master;
	x->n = n;
	x->qout = pipe_queue(s, id, end);
	x->qin = pipe_queue(s, id, !end);
	struct nm_ringpair *rp = &p->ring[0];
	rp->rx = rx;
	rp->tx = tx;
	rp->fd = -1;
	rp->qid = -1;
	rp->backend = NM_BE_PIPE;
	rp->ops = &pipe_ops;
	rp->priv = x;
	p->nrings = 1;
	p->pool = pl;
	p->mtu = nm_pool_buf_size(pl);
	snprintf(p->mode, sizeof(p->mode), "pipe %s end, shared memory zero-copy",
	         master ? "master" : "slave");
	return 0;
}

int nm_pipe_audit(struct nm_pool *pl, char *msg, size_t msglen)
{
	struct pipe_shm *s = pl->pipe;
	struct nm_audit a = {.nbufs = s->nbufs};
	a.seen = calloc(s->nbufs / 8 + 1, 1);
	if (!a.seen)
		return -ENOMEM;
	lock_shm(s);
	uint32_t nfree = s->nfree;
	for (uint32_t i = 0; i < nfree; i++)
		nm_audit_mark(&a, pl->stack[i]);
	for (int id = 0; id < PIPE_MAX; id++) {
		if (s->pipe[id].qinit)
			for (int d = 0; d < 2; d++)
				for (uint32_t i = 0; i < s->nslots; i++)
					nm_audit_mark(&a, pipe_queue(s, id, d)->slot[i].buf_idx);
		for (int e = 0; e < 2; e++) {
			if (!s->pipe[id].pid[e])
				continue;
			for (int dir = 0; dir < 2; dir++)
				for (uint32_t i = 0; i < s->nslots; i++)
					nm_audit_mark(&a,
					              pipe_ring(s, id, e, dir)->slot[i].buf_idx);
		}
	}
	pthread_mutex_unlock(&s->lock);
	free(a.seen);
	uint32_t want = s->nbufs - 1;
	int ok = a.dups == 0 && a.bad == 0 && a.marked == want;
	if (msg)
		snprintf(msg, msglen,
		         "pool audit %s: %u buffers: %u free, %u in pipe rings and queues, "
		         "%u named twice, %u invalid",
		         ok ? "ok" : "FAILED", want, nfree, a.marked - nfree, a.dups, a.bad);
	return ok ? 0 : -EUCLEAN;
}
