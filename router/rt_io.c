/*
 * rt_io.c — nmrouter's rings: ports, worker threads, and what a verdict means for a slot.
 *
 * DOC: threads and rings
 *
 * Every RX ring (each hardware queue of each port, and each host ring) is served by exactly
 * one worker; rings are dealt round-robin over the workers. A worker transmits on TX ring
 * (worker id mod hardware rings) of the egress port, and on the host ring of a port; a TX
 * ring that more than one worker may use is taken with a spinlock once per burst (never per
 * packet). Workers are liburcu-QSBR readers: offline while they sleep in nmport_poll(), a
 * quiescent state after every round of bursts.
 *
 * DOC: moving buffers
 *
 * A packet goes to its egress TX ring by exchanging buf_idx between its RX slot and a free
 * TX slot (nm_slot_swap) when both ports share a pool (nmport_same_pool), else it is copied.
 * A packet held for ARP/ND leaves its buffer to the hold queue and the RX slot gets a fresh
 * one from the pool (nm_pool_get), so the RX ring never loses a buffer; when the neighbor
 * resolves, the held buffer is swapped into a TX slot and the slot's old buffer returns to
 * the pool. Frames the engine builds (ARP requests, NS) are copied into a TX slot's buffer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "nmport.h"
#include "router/rt_io.h"

#define RT_EXTRA_MAX 512 /* frames a worker may queue outside the RX burst */
#define RT_EMIT_LEN  128

struct rt_port_io {
	struct nmport *np; /* data rings */
	struct nmport *hp; /* the port holding the host ring (np itself for IF*), or NULL */
	int hring;         /* host ring index in hp, -1 if none */
	unsigned nhw;      /* data rings in np */
	char host_ifname[IFNAMSIZ];
	pthread_spinlock_t txlock[NMPORT_MAX_RINGS];
	pthread_spinlock_t hostlock;
};

struct rt_rxq {
	unsigned port;
	struct nmport *np;
	unsigned ring;
	int host;
};

/* a frame queued for TX outside the in-place path */
struct rt_extra {
	uint16_t port, len;
	uint8_t kind; /* 0 = built frame in data[], 1 = held pool buffer */
	uint8_t fwd;  /* a forwarded packet: counted as such once on the TX ring */
	struct nm_pool *pool;
	uint32_t buf;
	uint8_t data[RT_EMIT_LEN];
};

struct rt_wio {
	struct rt_worker w;
	struct rt_io *io;
	pthread_t tid;
	struct rt_rxq q[2 * NMPORT_MAX_RINGS];
	unsigned nq;
	/* current burst */
	struct netmap_ring *rxr;
	uint32_t slot[RT_BURST];
	struct rt_pkt pk[RT_BURST];
	struct rt_verdict vd[RT_BURST];
	uint16_t byq[2 * RT_MAX_PORTS][RT_BURST]; /* packet indices per destination */
	uint16_t nbyq[2 * RT_MAX_PORTS];
	struct rt_extra extra[RT_EXTRA_MAX];
	unsigned nextra;
	uint64_t last_tick;
};

struct rt_io {
	struct rt *rt;
	unsigned nports;
	struct rt_port_io port[RT_MAX_PORTS];
	unsigned nworkers;
	struct rt_wio *wio[RT_MAX_WORKERS];
	volatile int stop;
};

/* ================================================================ engine hooks */

static struct rt_wio *wio_of(struct rt_worker *w)
{
	return (struct rt_wio *)w; /* w is the first member */
}

static uint32_t io_steal(struct rt_worker *w, unsigned i)
{
	struct rt_wio *x = wio_of(w);
	struct netmap_slot *s = &x->rxr->slot[x->slot[i]];
	struct nm_pool *pl = x->io->port[x->pk[i].port].np->pool;
	uint32_t fresh = nm_pool_get(pl);
	if (!fresh)
		return 0;
	uint32_t held = s->buf_idx;
	s->buf_idx = fresh;
	s->flags |= NS_BUF_CHANGED;
	return held;
}

static uint8_t *io_held_data(struct rt_worker *w, const struct rt_held *h)
{
	struct rt_wio *x = wio_of(w);
	return (uint8_t *)nm_pool_buf(x->io->port[h->port].np->pool, h->buf);
}

static void io_free_held(struct rt_worker *w, const struct rt_held *h)
{
	struct rt_wio *x = wio_of(w);
	nm_pool_put(x->io->port[h->port].np->pool, h->buf);
}

static void io_send_held(struct rt_worker *w, const struct rt_held *h, unsigned out_port, int fwd)
{
	struct rt_wio *x = wio_of(w);
	if (x->nextra >= RT_EXTRA_MAX) {
		io_free_held(w, h);
		w->st.drops[RT_DROP_TX_FULL]++;
		return;
	}
	struct rt_extra *e = &x->extra[x->nextra++];
	e->port = (uint16_t)out_port;
	e->len = h->len;
	e->kind = 1;
	e->fwd = (uint8_t)fwd;
	e->pool = x->io->port[h->port].np->pool;
	e->buf = h->buf;
}

static void io_emit(struct rt_worker *w, unsigned port, const uint8_t *f, unsigned len)
{
	struct rt_wio *x = wio_of(w);
	if (x->nextra >= RT_EXTRA_MAX || len > RT_EMIT_LEN) {
		w->st.drops[RT_DROP_TX_FULL]++;
		return;
	}
	struct rt_extra *e = &x->extra[x->nextra++];
	e->port = (uint16_t)port;
	e->len = (uint16_t)len;
	e->kind = 0;
	e->fwd = 0;
	memcpy(e->data, f, len);
}

static uint32_t io_alloc(struct rt_worker *w, unsigned port)
{
	struct rt_wio *x = wio_of(w);
	return nm_pool_get(x->io->port[port].np->pool);
}

static const struct rt_io_ops io_ops = {io_steal,     io_held_data, io_send_held,
                                        io_free_held, io_emit,      io_alloc};

/* ================================================================ transmit */

/* The TX ring a worker uses towards (port, host?) and its lock. */
static struct netmap_ring *tx_ring(struct rt_wio *x, unsigned port, int host, struct nmport **np,
                                   unsigned *ring, pthread_spinlock_t **lk)
{
	struct rt_port_io *pi = &x->io->port[port];
	if (host) {
		*np = pi->hp;
		*ring = (unsigned)pi->hring;
		*lk = &pi->hostlock;
	} else {
		*np = pi->np;
		*ring = x->w.id % pi->nhw;
		*lk = &pi->txlock[*ring];
	}
	return nmport_txring(*np, *ring);
}

/* A free TX slot index, syncing once if the ring looks full; -1 if none. */
static inline int64_t tx_slot(struct nmport *np, unsigned ring, struct netmap_ring *t, int *synced)
{
	if (unlikely(nm_ring_empty(t))) {
		if (*synced)
			return -1;
		nmport_txsync(np, ring);
		*synced = 1;
		if (nm_ring_empty(t))
			return -1;
	}
	return t->head;
}

/* Sends the burst's packets that go to destination d (port*2 + host). */
static void flush_dest(struct rt_wio *x, struct nmport *rxp, unsigned d)
{
	struct nmport *np;
	unsigned ring, port = d >> 1;
	pthread_spinlock_t *lk;
	struct netmap_ring *t = tx_ring(x, port, d & 1, &np, &ring, &lk);
	int same = nmport_same_pool(rxp, np), synced = 0;
	uint16_t *idx = x->byq[d];
	unsigned n = x->nbyq[d];
	pthread_spin_lock(lk);
	for (unsigned k = 0; k < n; k++) {
		unsigned i = idx[k];
		int64_t h = tx_slot(np, ring, t, &synced);
		if (h < 0) {
			x->w.st.drops[RT_DROP_TX_FULL] += n - k;
			break;
		}
		struct netmap_slot *ts = &t->slot[h], *rs = &x->rxr->slot[x->slot[i]];
		if (likely(same))
			nm_slot_swap(ts, rs);
		else
			memcpy(NETMAP_BUF(t, ts->buf_idx), x->pk[i].data, x->vd[i].len);
		ts->len = x->vd[i].len;
		t->head = t->cur = nm_ring_next(t, (uint32_t)h);
		x->w.st.forwarded += x->vd[i].fwd; /* on the ring: not tx_full as well */
	}
	nmport_txsync(np, ring);
	pthread_spin_unlock(lk);
	x->nbyq[d] = 0;
}

/* Sends frames queued by the engine outside the RX path (probes, released held packets). */
static void flush_extra(struct rt_wio *x)
{
	for (unsigned k = 0; k < x->nextra;) {
		unsigned port = x->extra[k].port;
		struct nmport *np;
		unsigned ring;
		pthread_spinlock_t *lk;
		struct netmap_ring *t = tx_ring(x, port, 0, &np, &ring, &lk);
		int synced = 0;
		pthread_spin_lock(lk);
		for (; k < x->nextra && x->extra[k].port == port; k++) {
			struct rt_extra *e = &x->extra[k];
			int64_t h = tx_slot(np, ring, t, &synced);
			if (h < 0) {
				if (e->kind == 1)
					nm_pool_put(e->pool, e->buf);
				x->w.st.drops[RT_DROP_TX_FULL]++;
				continue;
			}
			struct netmap_slot *ts = &t->slot[h];
			if (e->kind == 0) {
				memcpy(NETMAP_BUF(t, ts->buf_idx), e->data, e->len);
			} else if (e->pool == np->pool) {
				uint32_t old = ts->buf_idx;
				ts->buf_idx = e->buf;
				ts->flags |= NS_BUF_CHANGED;
				nm_pool_put(e->pool, old);
			} else {
				memcpy(NETMAP_BUF(t, ts->buf_idx), nm_pool_buf(e->pool, e->buf),
				       e->len);
				nm_pool_put(e->pool, e->buf);
			}
			ts->len = e->len;
			t->head = t->cur = nm_ring_next(t, (uint32_t)h);
			x->w.st.forwarded += e->fwd;
		}
		nmport_txsync(np, ring);
		pthread_spin_unlock(lk);
	}
	x->nextra = 0;
}

/* ================================================================ receive */

/* Processes up to one burst from RX queue q; returns the number of packets. */
static unsigned rx_burst(struct rt_wio *x, struct rt_rxq *q)
{
	struct netmap_ring *r = nmport_rxring(q->np, q->ring);
	unsigned n = nm_ring_space(r);
	if (!n)
		return 0;
	if (n > RT_BURST)
		n = RT_BURST;
	x->rxr = r;
	uint32_t h = r->head;
	for (unsigned i = 0; i < n; i++) {
		struct netmap_slot *s = &r->slot[h];
		x->slot[i] = h;
		x->pk[i].data = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
		x->pk[i].len = s->len;
		x->pk[i].port = (uint16_t)q->port;
		x->pk[i].from_host = (uint8_t)q->host;
		__builtin_prefetch(x->pk[i].data);
		h = nm_ring_next(r, h);
	}
	rt_burst(&x->w, x->pk, n, x->vd);
	uint32_t dmask = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct rt_verdict *v = &x->vd[i];
		if (v->action == RT_ACT_TX || v->action == RT_ACT_HOST) {
			unsigned d = v->port * 2u + (v->action == RT_ACT_HOST);
			x->byq[d][x->nbyq[d]++] = (uint16_t)i;
			dmask |= 1u << d;
		}
	}
	while (dmask) {
		unsigned d = (unsigned)__builtin_ctz(dmask);
		dmask &= dmask - 1;
		flush_dest(x, q->np, d);
	}
	nm_ring_advance(r, h);
	if (x->nextra)
		flush_extra(x);
	return n;
}

static void *worker_main(void *arg)
{
	struct rt_wio *x = arg;
	struct rt_io *io = x->io;
	struct nmport_pollent pe[2 * NMPORT_MAX_RINGS];
	int busy = 0;

	rcu_register_thread();
	for (unsigned i = 0; i < x->nq; i++)
		pe[i] = (struct nmport_pollent){x->q[i].np, x->q[i].ring, POLLIN, 0};
	while (!io->stop) {
		if (!busy) {
			rcu_thread_offline();
			nmport_poll(pe, x->nq, 10);
			rcu_thread_online();
		} else {
			for (unsigned i = 0; i < x->nq; i++)
				nmport_rxsync(x->q[i].np, x->q[i].ring);
		}
		x->w.now = rt_now_ns();
		unsigned got = 0;
		for (unsigned i = 0; i < x->nq; i++)
			got += rx_burst(x, &x->q[i]);
		busy = got > 0;
		if (x->w.id == 0 && x->w.now - x->last_tick > 100000000ull) {
			x->last_tick = x->w.now;
			rt_neigh_tick(&x->w);
			if (x->nextra)
				flush_extra(x);
		}
		rcu_quiescent_state();
	}
	/* give back what the last bursts released */
	for (unsigned i = 0; i < x->nq; i++)
		nmport_rxsync(x->q[i].np, x->q[i].ring);
	rcu_unregister_thread();
	return NULL;
}

/* ================================================================ setup */

static void link_stats(struct rt *rt, unsigned port, struct rt_link *l)
{
	struct rt_io *io = rt->io_priv;
	struct nmport_ring_stats s = {0}, h = {0};
	if (!io || port >= io->nports)
		return;
	struct rt_port_io *pi = &io->port[port];
	nmport_stats(pi->np, &s);
	if (pi->hp && pi->hp != pi->np)
		nmport_stats(pi->hp, &h);
	l->rx_packets = s.rx_pkts;
	l->rx_bytes = s.rx_bytes;
	l->tx_packets = s.tx_pkts;
	l->tx_bytes = s.tx_bytes;
	l->rx_dropped = s.rx_dropped;
	l->tx_dropped = s.tx_errors;
	snprintf(l->mode, sizeof(l->mode), "%s", pi->np->mode);
}

struct rt_io *rt_io_open(struct rt *rt, const struct rt_port_cfg *pc, unsigned n, char *err,
                         size_t errlen)
{
	struct rt_io *io = calloc(1, sizeof(*io));
	if (!io) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	io->rt = rt;
	for (unsigned i = 0; i < n; i++) {
		struct rt_port_io *pi = &io->port[i];
		struct nmport_opts o = {.ring_size = pc[i].ring_size};
		size_t sl = strlen(pc[i].spec);
		int star = sl && pc[i].spec[sl - 1] == '*';
		pi->hring = -1;
		pi->np = nmport_open(pc[i].spec, &o);
		if (!pi->np) {
			snprintf(err, errlen, "ports[%u] (%s): %s", i, pc[i].name, nmport_errmsg());
			goto fail;
		}
		io->nports = i + 1;
		pi->nhw = pi->np->nrings - (pi->np->host_ring >= 0);
		if (pi->np->host_ring >= 0 && (star || pc[i].host)) {
			pi->hp = pi->np;
			pi->hring = pi->np->host_ring;
		} else if (pc[i].host) {
			char hs[IFNAMSIZ + 32];
			snprintf(hs, sizeof(hs), "netmap:%s^", pi->np->ifname);
			pi->hp = nmport_open(hs, &o);
			if (!pi->hp) {
				snprintf(err, errlen, "ports[%u] (%s): host ring: %s", i,
				         pc[i].name, nmport_errmsg());
				goto fail;
			}
			pi->hring = pi->hp->host_ring >= 0 ? pi->hp->host_ring : 0;
		}
		if (pi->nhw == 0) {
			snprintf(err, errlen, "ports[%u] (%s): %s has no data rings", i, pc[i].name,
			         pc[i].spec);
			goto fail;
		}
		if (pi->hp)
			nmport_tap_name(pi->np->ifname, pi->host_ifname);
		for (unsigned r = 0; r < NMPORT_MAX_RINGS; r++)
			pthread_spin_init(&pi->txlock[r], PTHREAD_PROCESS_PRIVATE);
		pthread_spin_init(&pi->hostlock, PTHREAD_PROCESS_PRIVATE);
		uint8_t mac[6];
		static const uint8_t zero[6];
		if (pc[i].has_mac)
			memcpy(mac, pc[i].mac, 6);
		else if (memcmp(pi->np->mac, zero, 6))
			memcpy(mac, pi->np->mac, 6);
		else /* pipes have no MAC: a locally administered one per port */
			memcpy(mac, (uint8_t[6]){0x02, 0x6e, 0x6d, 0x72, 0x74, (uint8_t)i}, 6);
		uint32_t mtu = pc[i].mtu ? pc[i].mtu : pi->np->mtu;
		if (pc[i].mtu && pi->np->mtu && pc[i].mtu > pi->np->mtu)
			fprintf(stderr,
			        "nmrouter: ports[%u] (%s): warning: mtu %u is above the MTU of %s "
			        "(%u): frames longer than that will not leave\n",
			        i, pc[i].name, pc[i].mtu, pi->np->ifname, pi->np->mtu);
		int rc = rt_port_add(rt, pc[i].name, pc[i].spec, mac, mtu, pi->hp != NULL);
		if (rc < 0) {
			snprintf(err, errlen, "ports[%u] (%s): %s", i, pc[i].name, strerror(-rc));
			goto fail;
		}
		if (pi->hp && pi->hp != pi->np)
			memcpy(rt->port[i].host_mac, pi->hp->mac, 6);
		rt->port[i].io = pi;
	}
	rt->io_priv = io;
	rt->link_stats = link_stats;
	return io;
fail:
	rt_io_close(io);
	return NULL;
}

int rt_io_start(struct rt_io *io, unsigned nworkers, char *err, size_t errlen)
{
	struct rt_rxq all[RT_MAX_PORTS * (NMPORT_MAX_RINGS + 1)];
	unsigned nall = 0, maxhw = 1;
	for (unsigned p = 0; p < io->nports; p++) {
		struct rt_port_io *pi = &io->port[p];
		for (unsigned r = 0; r < pi->nhw; r++)
			all[nall++] = (struct rt_rxq){p, pi->np, r, 0};
		if (pi->hp)
			all[nall++] = (struct rt_rxq){p, pi->hp, (unsigned)pi->hring, 1};
		if (pi->nhw > maxhw)
			maxhw = pi->nhw;
	}
	if (!nworkers)
		nworkers = maxhw; /* one per RX queue of the widest port */
	if (nworkers > RT_MAX_WORKERS)
		nworkers = RT_MAX_WORKERS;
	if (nworkers > nall)
		nworkers = nall;
	for (unsigned w = 0; w < nworkers; w++) {
		struct rt_wio *x = aligned_alloc(64, (sizeof(*x) + 63) & ~(size_t)63);
		if (!x) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		memset(x, 0, sizeof(*x));
		x->io = io;
		rt_worker_init(&x->w, io->rt, w, &io_ops, x);
		io->wio[w] = x;
	}
	for (unsigned i = 0; i < nall; i++) {
		struct rt_wio *x = io->wio[i % nworkers];
		if (x->nq < 2 * NMPORT_MAX_RINGS)
			x->q[x->nq++] = all[i];
	}
	io->nworkers = nworkers;
	for (unsigned w = 0; w < nworkers; w++) {
		int rc = pthread_create(&io->wio[w]->tid, NULL, worker_main, io->wio[w]);
		if (rc) {
			snprintf(err, errlen, "worker %u: %s", w, strerror(rc));
			io->nworkers = w;
			return -rc;
		}
	}
	return 0;
}

unsigned rt_io_nworkers(const struct rt_io *io)
{
	return io->nworkers;
}

const char *rt_io_host_ifname(struct rt_io *io, unsigned port)
{
	if (port >= io->nports || !io->port[port].hp)
		return NULL;
	return io->port[port].host_ifname;
}

void rt_io_close(struct rt_io *io)
{
	if (!io)
		return;
	io->stop = 1;
	for (unsigned w = 0; w < io->nworkers; w++)
		pthread_join(io->wio[w]->tid, NULL);
	if (io->rt) {
		io->rt->link_stats = NULL;
		io->rt->io_priv = NULL;
	}
	/* held buffers go back to their pools before the ports (and pools) close */
	if (io->nworkers && io->rt) {
		struct rt *rt = io->rt;
		for (unsigned i = 0; i < RT_NEIGH_SLOTS; i++) {
			struct rt_neigh_ent *e = &rt->neigh[i];
			for (unsigned k = 0; k < e->nhold; k++)
				nm_pool_put(io->port[e->hold[k].port].np->pool, e->hold[k].buf);
			e->nhold = 0;
		}
	}
	for (unsigned p = 0; p < io->nports; p++) {
		struct rt_port_io *pi = &io->port[p];
		if (pi->hp && pi->hp != pi->np)
			nmport_close(pi->hp);
		nmport_close(pi->np);
		if (io->rt)
			io->rt->port[p].io = NULL;
	}
	for (unsigned w = 0; w < io->nworkers; w++) {
		if (io->rt)
			io->rt->workers[w] = NULL;
		free(io->wio[w]);
	}
	if (io->rt)
		io->rt->nworkers = 0;
	free(io);
}

/* ================================================================ host-side addresses */

/* struct in6_ifreq of <linux/ipv6.h>, which clashes with <netinet/in.h> */
struct rt_in6_ifreq {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

static int write_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

int rt_io_host_setup(struct rt_io *io, char *err, size_t errlen)
{
	struct rt *rt = io->rt;
	int s4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int s6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;
	for (unsigned p = 0; p < io->nports && !ret; p++) {
		const char *ifn = rt_io_host_ifname(io, p);
		const struct rt_port *port = &rt->port[p];
		if (!ifn)
			continue;
		char path[128];
		/* our addresses are ours: no duplicate address detection on the host side */
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_dad", ifn);
		write_sysctl(path, "0");
		unsigned ifindex = if_nametoindex(ifn);
		for (unsigned a = 0; a < port->naddrs; a++) {
			const struct rt_addr *ad = &port->addrs[a];
			struct ifreq ifr;
			memset(&ifr, 0, sizeof(ifr));
			snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifn);
			if (ad->family == AF_INET) {
				struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
				sin->sin_family = AF_INET;
				memcpy(&sin->sin_addr, ad->addr, 4);
				if (ioctl(s4, SIOCSIFADDR, &ifr) < 0 && errno != EEXIST)
					ret = -errno;
				sin->sin_addr.s_addr = ad->plen ? htonl(~0u << (32 - ad->plen)) : 0;
				if (!ret && ioctl(s4, SIOCSIFNETMASK, &ifr) < 0)
					ret = -errno;
			} else {
				struct rt_in6_ifreq r6 = {.prefixlen = ad->plen,
				                          .ifindex = (int)ifindex};
				memcpy(&r6.addr, ad->addr, 16);
				if (ioctl(s6, SIOCSIFADDR, &r6) < 0 && errno != EEXIST)
					ret = -errno;
			}
			if (ret) {
				char b[INET6_ADDRSTRLEN];
				inet_ntop(ad->family, ad->addr, b, sizeof(b));
				snprintf(err, errlen, "%s: add %s/%u: %s", ifn, b, ad->plen,
				         strerror(-ret));
				break;
			}
		}
		/* the host stack sends no more than the port carries */
		struct ifreq mr;
		memset(&mr, 0, sizeof(mr));
		snprintf(mr.ifr_name, sizeof(mr.ifr_name), "%s", ifn);
		mr.ifr_mtu = (int)port->mtu;
		if (!ret && ioctl(s4, SIOCSIFMTU, &mr) < 0) {
			ret = -errno;
			snprintf(err, errlen, "%s: set mtu %u: %s", ifn, port->mtu, strerror(-ret));
		}
	}
	close(s4);
	close(s6);
	return ret;
}
