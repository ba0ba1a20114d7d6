/*
 * xdp.c — the AF_XDP backend: one socket per queue, all on the process pool as UMEM.
 *
 * The whole pool is registered once as a UMEM; every later socket, on any interface,
 * joins it with XDP_SHARED_UMEM and its own fill and completion rings. So a buffer
 * received on one port can be posted for transmission on another by index alone.
 *
 * RX ring pair (N slots) always owns N buffers: those in user slots [head, tail), and
 * those posted to the kernel (fill ring, or received but not yet moved into slots),
 * counted by `posted`. rxsync first posts the buffers of the slots the user released —
 * whatever buf_idx they carry now, possibly one swapped in from another port — then moves
 * RX descriptors into slots from tail on.
 *
 * TX: every slot always names a buffer. txsync turns slots [hwcur, head) into TX
 * descriptors, kicks the kernel once (copy mode always wants it), and advances tail by the
 * completions, which come back in order; a completed slot keeps the buffer it sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>
#include "nm_internal.h"

#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9
#endif

struct xdp_rp {
	struct xsk_socket *xsk;
	struct xsk_ring_cons rx, cq;
	struct xsk_ring_prod tx, fq;
	struct xsk_ring_prod *fqp; /* the umem's own rings for the first socket */
	struct xsk_ring_cons *cqp;
	uint32_t posted;   /* buffers given to the fill ring and not yet received */
	uint32_t inflight; /* TX descriptors not yet completed */
	uint32_t frame_size, headroom;
};

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (getenv("NMBOX_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	(void)level;
	return 0;
}

static int xdp_quiet_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (getenv("NMBOX_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	(void)level;
	return 0;
}

/* libxdp's dispatcher wants a bpffs; `ip netns exec` gives a fresh /sys without one. */
static void ensure_bpffs(void)
{
	struct statfs st;
	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") && !getenv("LIBXDP_BPFFS"))
		return; /* libxdp then loads a single program, which works as well */
}

static int umem_setup(struct nm_pool *pl)
{
	if (pl->umem)
		return 0;
	/* Every socket's fill ring takes all N buffers of its RX side at once, and its
	 * completion ring up to N TX descriptors: size both for the largest ring size
	 * nmport_open accepts (16384), not the default. */
	struct xsk_umem_config cfg = {
	    .fill_size = 16384,
	    .comp_size = 16384,
	    .frame_size = pl->frame_size,
	    .frame_headroom = 0,
	    .flags = 0,
	};
	struct xsk_ring_prod *fq = calloc(1, sizeof(*fq));
	struct xsk_ring_cons *cq = calloc(1, sizeof(*cq));
	struct xsk_umem *umem = NULL;
	if (!fq || !cq) {
		free(fq);
		free(cq);
		return -ENOMEM;
	}
	int rc = xsk_umem__create(&umem, pl->base, pl->size, fq, cq, &cfg);
	if (rc) {
		free(fq);
		free(cq);
		return rc;
	}
	pl->umem = umem;
	pl->umem_fq = fq;
	pl->umem_cq = cq;
	pl->umem_rings_taken = 0;
	return 0;
}

static inline void fq_kick(struct xdp_rp *x)
{
	if (xsk_ring_prod__needs_wakeup(x->fqp))
		recvfrom(xsk_socket__fd(x->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

static int xdp_rxsync(struct nmport *p, struct nm_ringpair *rp)
{
	struct xdp_rp *x = rp->priv;
	struct netmap_ring *r = rp->rx;
	uint32_t head = r->head, idx;
	(void)p;

	/* 1. Post the buffers of released slots to the fill ring. */
	uint32_t n = nm_ring_dist(r, rp->rx_hwcur, head);
	if (n) {
		if (xsk_ring_prod__reserve(x->fqp, n, &idx) != n)
			return -ENOSPC; /* cannot happen: the fill ring is larger than the RX ring
			                 */
		for (uint32_t i = rp->rx_hwcur; i != head; i = nm_ring_next(r, i)) {
			struct netmap_slot *s = &r->slot[i];
			*xsk_ring_prod__fill_addr(x->fqp, idx++) =
			    (uint64_t)s->buf_idx * x->frame_size;
			s->flags &= (uint16_t)~NS_BUF_CHANGED;
		}
		xsk_ring_prod__submit(x->fqp, n);
		x->posted += n;
		rp->rx_hwcur = head;
	}
	fq_kick(x);

	/* 2. Move received descriptors into slots from tail on (keep one slot free). */
	uint32_t space = nm_rx_room(r);
	uint32_t got = xsk_ring_cons__peek(&x->rx, space, &idx);
	if (got) {
		uint32_t t = r->tail;
		uint64_t bytes = 0;
		for (uint32_t k = 0; k < got; k++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx++);
			struct netmap_slot *s = &r->slot[t];
			s->buf_idx = (uint32_t)(d->addr / x->frame_size);
			s->len = (uint16_t)d->len;
			s->flags = 0;
			bytes += d->len;
			t = nm_ring_next(r, t);
		}
		xsk_ring_cons__release(&x->rx, got);
		x->posted -= got;
		nm_rx_done(rp, t, got, bytes, 0);
	}
	return 0;
}

static void xdp_complete(struct xdp_rp *x, struct netmap_ring *r)
{
	uint32_t idx;
	uint32_t done = xsk_ring_cons__peek(x->cqp, x->inflight, &idx);
	if (done) {
		xsk_ring_cons__release(x->cqp, done);
		x->inflight -= done;
		r->tail = nm_ring_add(r, r->tail, done);
	}
}

static int xdp_txsync(struct nmport *p, struct nm_ringpair *rp)
{
	struct xdp_rp *x = rp->priv;
	struct netmap_ring *r = rp->tx;
	uint32_t head = r->head, idx;
	(void)p;

	uint32_t n = nm_ring_dist(r, rp->tx_hwcur, head);
	if (n) {
		if (xsk_ring_prod__reserve(&x->tx, n, &idx) != n)
			return -ENOSPC; /* cannot happen: TX ring sized like the netmap ring */
		uint64_t bytes = 0;
		for (uint32_t i = rp->tx_hwcur; i != head; i = nm_ring_next(r, i)) {
			struct netmap_slot *s = &r->slot[i];
			struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx++);
			d->addr = (uint64_t)s->buf_idx * x->frame_size + x->headroom;
			d->len = s->len;
			d->options = 0;
			s->flags &= (uint16_t)~NS_BUF_CHANGED;
			bytes += s->len;
		}
		xsk_ring_prod__submit(&x->tx, n);
		x->inflight += n;
		rp->tx_hwcur = head;
		rp->st.tx_pkts += n;
		rp->st.tx_bytes += bytes;
	}
	if (x->inflight) {
		if (xsk_ring_prod__needs_wakeup(&x->tx) || n) {
			/* In copy mode one sendto() transmits at most a small batch (32 frames
			 * on Linux 6.x) and says EAGAIN if descriptors remain: kick again while
			 * the kernel keeps taking them, or a burst would leave the ring 32
			 * frames at a time, one burst per pass of the caller. An EAGAIN that
			 * took nothing (socket buffer full of frames not yet sent) stops. */
			int fd = xsk_socket__fd(x->xsk);
			for (unsigned k = 0; k < 64; k++) {
				uint32_t cons = __atomic_load_n(x->tx.consumer, __ATOMIC_ACQUIRE);
				rp->st.tx_kicks++;
				if (sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0 ||
				    errno != EAGAIN ||
				    __atomic_load_n(x->tx.consumer, __ATOMIC_ACQUIRE) == cons)
					break;
			}
		}
		xdp_complete(x, r);
	}
	return 0;
}

static void xdp_audit(struct nmport *p, struct nm_ringpair *rp, struct nm_audit *a)
{
	struct xdp_rp *x = rp->priv;
	(void)p;
	/* user slots, and released slots not yet posted: [hwcur, tail) */
	nm_audit_slots(a, rp->rx, rp->rx_hwcur, rp->rx->tail);
	a->kernel += x->posted;
	for (uint32_t i = 0; i < rp->tx->num_slots; i++)
		nm_audit_mark(a, rp->tx->slot[i].buf_idx);
}

static void xdp_close(struct nmport *p, struct nm_ringpair *rp)
{
	struct xdp_rp *x = rp->priv;
	struct nm_pool *pl = p->pool;
	if (x) {
		/* Wait briefly for TX completions so their buffers are ours again. */
		for (int i = 0; i < 100 && x->inflight; i++) {
			sendto(xsk_socket__fd(x->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0);
			xdp_complete(x, rp->tx);
			if (x->inflight)
				usleep(1000);
		}
		if (x->xsk)
			xsk_socket__delete(x->xsk);
		/* The buffers the slots name go back to the pool: the user's [head, tail) and
		 * the released ones not yet posted, [hwcur, head). Those posted to the fill
		 * ring cannot be named (the kernel hands them back in any order) and stay
		 * out of the pool until the process ends: close ports at exit, not per flow. */
		if (rp->rx) {
			for (uint32_t i = rp->rx_hwcur; i != rp->rx->tail;
			     i = nm_ring_next(rp->rx, i))
				nm_pool_put(pl, rp->rx->slot[i].buf_idx);
		}
		if (rp->tx)
			nm_ring_drain(rp->tx, pl);
		if (pl->umem_users && --pl->umem_users == 0 && pl->umem) {
			xsk_umem__delete(pl->umem);
			free(pl->umem_fq);
			free(pl->umem_cq);
			pl->umem = NULL;
			pl->umem_fq = pl->umem_cq = NULL;
			pl->umem_rings_taken = 0;
		}
		free(x);
	}
	nm_ring_free(rp->rx);
	nm_ring_free(rp->tx);
	nm_rp_reset(rp);
}

static const struct nm_ringpair_ops xdp_ops = {
    .rxsync = xdp_rxsync,
    .txsync = xdp_txsync,
    .audit = xdp_audit,
    .close = xdp_close,
};

static int try_socket(struct nmport *p, struct xdp_rp *x, int qid, uint32_t nslots,
                      uint32_t xdp_flags, uint16_t bind_flags)
{
	struct nm_pool *pl = p->pool;
	struct xsk_socket_config cfg = {
	    .rx_size = nslots * 2,
	    .tx_size = nslots,
	    .libxdp_flags = 0,
	    .xdp_flags = xdp_flags,
	    .bind_flags = bind_flags | XDP_USE_NEED_WAKEUP,
	};
	if (!pl->umem_rings_taken) {
		x->fqp = pl->umem_fq;
		x->cqp = pl->umem_cq;
	} else {
		x->fqp = &x->fq;
		x->cqp = &x->cq;
	}
	int rc = xsk_socket__create_shared(&x->xsk, p->ifname, (uint32_t)qid, pl->umem, &x->rx,
	                                   &x->tx, x->fqp, x->cqp, &cfg);
	if (rc == 0 && x->fqp == pl->umem_fq)
		pl->umem_rings_taken = 1;
	return rc;
}

int nm_xdp_open(struct nmport *p, struct nm_ringpair *rp, int qid, const struct nmport_opts *o,
                int forced)
{
	struct nm_pool *pl = p->pool;
	uint32_t n = o->ring_size;
	int rc;
	(void)forced;

	libbpf_set_print(quiet_print);
	libxdp_set_print(xdp_quiet_print);
	ensure_bpffs();

	rc = umem_setup(pl);
	if (rc) {
		nm_seterr("%s: AF_XDP: cannot register the buffer pool as UMEM: %s", p->spec,
		          strerror(-rc));
		return rc;
	}
	pl->umem_users++;
	struct xdp_rp *x = calloc(1, sizeof(*x));
	rc = nm_rp_init(p, rp, &xdp_ops, NM_BE_XDP, qid, (uint16_t)qid, n, x);
	if (rc)
		goto fail;
	x->frame_size = pl->frame_size;
	x->headroom = pl->headroom;

	/* Native first unless told otherwise; zero copy first, then copy. */
	static const struct {
		uint32_t xdp;
		uint16_t bind;
		const char *name;
	} modes[] = {
	    {XDP_FLAGS_DRV_MODE, XDP_ZEROCOPY, "AF_XDP native zero-copy"},
	    {XDP_FLAGS_DRV_MODE, XDP_COPY, "AF_XDP native copy"},
	    {XDP_FLAGS_SKB_MODE, XDP_COPY, "AF_XDP generic copy"},
	};
	rc = -EOPNOTSUPP;
	const char *chosen = NULL;
	for (unsigned m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		if (o->xdp_mode == NM_XDP_SKB && modes[m].xdp != XDP_FLAGS_SKB_MODE)
			continue;
		if (o->xdp_mode == NM_XDP_DRV && modes[m].xdp != XDP_FLAGS_DRV_MODE)
			continue;
		/* Later queues of the port must use the mode of the first. */
		if (p->nrings > 0 && strcmp(p->mode, modes[m].name))
			continue;
		rc = try_socket(p, x, qid, n, modes[m].xdp, modes[m].bind);
		if (rc == 0) {
			chosen = modes[m].name;
			break;
		}
	}
	if (rc) {
		nm_seterr("%s: AF_XDP socket on %s queue %d: %s", p->spec, p->ifname, qid,
		          strerror(-rc));
		goto fail;
	}
	rp->fd = xsk_socket__fd(x->xsk);
	/* A socket that joins a shared UMEM inherits the bind mode of the UMEM's first
	 * socket, whatever it asked for: ask the kernel what it really is. */
	struct xdp_options xo = {0};
	socklen_t xol = sizeof(xo);
	if (getsockopt(rp->fd, SOL_XDP, XDP_OPTIONS, &xo, &xol) == 0)
		snprintf(p->mode, sizeof(p->mode), "AF_XDP %s %s",
		         strstr(chosen, "native") ? "native" : "generic",
		         (xo.flags & XDP_OPTIONS_ZEROCOPY) ? "zero-copy" : "copy");
	else
		snprintf(p->mode, sizeof(p->mode), "%s", chosen);
	int budget = 256;
	setsockopt(rp->fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &budget, sizeof(budget));

	/* TX slots own N buffers; N more go to the fill ring for the RX side. */
	rc = nm_ring_fill(rp->tx, pl);
	if (rc) {
		nm_seterr("%s: buffer pool exhausted (%u free); raise NMBOX_POOL_BUFS", p->spec,
		          nm_pool_free_count(pl));
		goto fail;
	}
	uint32_t idx;
	if (xsk_ring_prod__reserve(x->fqp, n, &idx) != n) {
		nm_seterr("%s: AF_XDP fill ring too small", p->spec);
		rc = -ENOSPC;
		goto fail;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t b = nm_pool_get(pl);
		if (!b) {
			/* Give what was reserved back as empty addresses is impossible; cancel. */
			nm_seterr("%s: buffer pool exhausted; raise NMBOX_POOL_BUFS", p->spec);
			x->fqp->cached_prod -= n;
			for (uint32_t k = 0; k < i; k++)
				nm_pool_put(
				    pl, (uint32_t)(*xsk_ring_prod__fill_addr(x->fqp, idx - i + k) /
				                   pl->frame_size));
			rc = -ENOBUFS;
			goto fail;
		}
		*xsk_ring_prod__fill_addr(x->fqp, idx++) = (uint64_t)b * pl->frame_size;
	}
	xsk_ring_prod__submit(x->fqp, n);
	x->posted = n;
	return 0;
fail:
	xdp_close(p, rp);
	return rc;
}
