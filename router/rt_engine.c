/*
 * rt_engine.c — nmrouter's data plane: one call per received burst, one verdict per frame.
 *
 * DOC: stages
 *
 *   1. classify    Ethernet -> ARP | IPv4 | IPv6 | other. IPv4 is checked as RFC 1812
 *                  5.2.2 asks (length, version, IHL, header checksum, total length within
 *                  the frame) and martian addresses are dropped; IPv6 likewise (version,
 *                  payload length, loopback/multicast sources). ARP and ND are handled on
 *                  the spot. The destination of every other packet joins a lookup batch.
 *   2. lookup      one rt_fib4_lookup_bulk / rt_fib6_lookup_bulk call per family.
 *   3. decide      per packet: local (punt to the host ring, or answer ping when there is
 *                  none), TTL/hop limit expiry, no route, the egress port's MTU (IPv4 with
 *                  DF: ICMP Fragmentation Needed; without: fragments; IPv6: ICMPv6 Packet
 *                  Too Big), then the neighbor: rewrite the Ethernet header and transmit,
 *                  or hold the buffer while ARP/ND runs.
 *   4. generated   ICMP errors and echo replies are written over the frame that caused
 *                  them and then routed like any packet (TTL untouched), in a short second
 *                  pass. An error is never sent about an ICMP error, a non-first fragment,
 *                  or a multicast/broadcast packet (RFC 1812 4.3.2.7, RFC 4443 2.4).
 *
 * Every frame ends in exactly one of: TX, HOST, HELD, or DROP with one reason counter.
 * A packet whose ICMP error the token bucket suppressed counts as RT_DROP_ICMP_RATE; one
 * whose error was sent counts under its cause (RT_DROP_TTL, RT_DROP_NO_ROUTE,
 * RT_DROP_FRAG_NEEDED, RT_DROP_TOO_BIG, and RT_DROP_NO_NEIGH for held packets whose next hop
 * failed) and in icmp_sent. A fragmented packet's outcome is its first fragment's.
 *
 * Neighbors follow RFC 4861 7.3 (README "Neighbors"): REACHABLE -> STALE after 30 s; the
 * first packet through a STALE entry makes it DELAY (the only fast-path write, under the
 * neighbor lock); rt_neigh_tick turns DELAY into PROBE after 5 s (unicast probes to the cached
 * MAC), PROBE into REACHABLE on an answer or FAILED after 3; held packets of a failed
 * resolution are answered with ICMP host / address unreachable (neigh_unreach).
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "router/rt.h"

#define ETH_HLEN_     14
#define ET_IP4        0x0800
#define ET_ARP        0x0806
#define ET_IP6        0x86dd
#define IPPROTO_ICMP_ 1
#define IPPROTO_ICMP6 58

#define ICMP4_ECHOREPLY  0
#define ICMP4_UNREACH    3
#define ICMP4_ECHO       8
#define ICMP4_TIMXCEED   11
#define ICMP4_FRAGNEEDED 4 /* code of ICMP4_UNREACH */
#define ICMP6_UNREACH    1
#define ICMP6_TOOBIG     2
#define ICMP6_TIMXCEED   3
#define ICMP6_ECHO       128
#define ICMP6_ECHOREPLY  129
#define ND_NS            135
#define ND_NA            136
#define ICMP4_QUOTE_MAX  (576 - 20 - 8)  /* RFC 1812 4.3.2.3: the error fits in 576 bytes */
#define ICMP6_QUOTE_MAX  (1280 - 40 - 8) /* RFC 4443 2.4(c): fits the minimum MTU */

static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* ================================================================ checksums */

static inline uint32_t csum_add(uint32_t sum, const void *data, unsigned len)
{
	const uint8_t *p = data;
	while (len > 1) {
		uint16_t w;
		memcpy(&w, p, 2);
		sum += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;
		memcpy(&w, p, 1);
		sum += w;
	}
	return sum;
}

static inline uint16_t csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The checksum field value for data whose sum (with the field zeroed) is sum. */
static inline uint16_t csum_final(uint32_t sum)
{
	return (uint16_t)~csum_fold(sum);
}

/*
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit word that changed from m to m'.
 * Unlike the older HC' = HC - ~m - m' form it never produces 0xffff (-0) from a non-zero
 * sum, so a receiver's verification is identical to a recomputation. One's-complement
 * arithmetic is byte-order independent, so the words are taken as they lie in memory.
 */
static inline uint16_t csum_update16(uint16_t hc, uint16_t m_old, uint16_t m_new)
{
	uint32_t s = (uint32_t)(uint16_t)~hc + (uint16_t)~m_old + m_new;
	return (uint16_t)~csum_fold(s);
}

/* IPv4 TTL += delta with the header checksum updated incrementally (the word TTL|protocol
 * changes by delta << 8). */
static inline void ttl4_add(uint8_t *ip, int delta)
{
	uint16_t old, nw, hc;
	memcpy(&old, ip + 8, 2);
	ip[8] = (uint8_t)(ip[8] + delta);
	memcpy(&nw, ip + 8, 2);
	memcpy(&hc, ip + 10, 2);
	hc = csum_update16(hc, old, nw);
	memcpy(ip + 10, &hc, 2);
}

static uint16_t icmp6_csum(const uint8_t *ip6, const uint8_t *l4, unsigned len)
{
	uint32_t s = csum_add(0, ip6 + 8, 32); /* source + destination */
	s += htons((uint16_t)(len >> 16)) + htons((uint16_t)len);
	s += htons(IPPROTO_ICMP6);
	s = csum_add(s, l4, len);
	return csum_final(s);
}

/* ================================================================ small helpers */

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* Sets the header checksum of the IPv4 header at ip, hl bytes long. */
static inline void ip4_csum_set(uint8_t *ip, unsigned hl)
{
	wr16(ip + 10, 0);
	uint16_t c = csum_final(csum_add(0, ip, hl));
	memcpy(ip + 10, &c, 2);
}

static inline void drop(struct rt_worker *w, struct rt_verdict *v, int reason)
{
	v->action = RT_ACT_DROP;
	v->reason = (uint8_t)reason;
	w->st.drops[reason]++;
}

/* States whose cached MAC is used to forward (DELAY and PROBE too, as in RFC 4861 7.3.3). */
static inline int nud_usable(int st)
{
	return st == RT_NUD_PERMANENT || st == RT_NUD_REACHABLE || st == RT_NUD_STALE ||
	       st == RT_NUD_DELAY || st == RT_NUD_PROBE;
}

/* Our IPv4 address on port (first one), 0 if none; network order. */
static uint32_t port_v4(const struct rt_port *p)
{
	for (unsigned i = 0; i < p->naddrs; i++)
		if (p->addrs[i].family == AF_INET) {
			uint32_t a;
			memcpy(&a, p->addrs[i].addr, 4);
			return a;
		}
	return 0;
}

/* Our IPv4 address on port in the subnet of `peer` (network order), else port_v4. */
static uint32_t port_v4_for(const struct rt_port *p, uint32_t peer)
{
	for (unsigned i = 0; i < p->naddrs; i++) {
		const struct rt_addr *a = &p->addrs[i];
		if (a->family != AF_INET)
			continue;
		uint32_t m = a->plen ? htonl(~0u << (32 - a->plen)) : 0, x;
		memcpy(&x, a->addr, 4);
		if (((x ^ peer) & m) == 0)
			return x;
	}
	return port_v4(p);
}

static int is_our_v4(const struct rt_port *p, uint32_t a)
{
	for (unsigned i = 0; i < p->naddrs; i++)
		if (p->addrs[i].family == AF_INET && !memcmp(p->addrs[i].addr, &a, 4))
			return 1;
	return 0;
}

static int is_our_v6(const struct rt_port *p, const uint8_t *a)
{
	if (!memcmp(p->v6ll, a, 16))
		return 1;
	for (unsigned i = 0; i < p->naddrs; i++)
		if (p->addrs[i].family == AF_INET6 && !memcmp(p->addrs[i].addr, a, 16))
			return 1;
	return 0;
}

/* Source address for our own IPv6 packets on port: a global one, else the link-local. */
static const uint8_t *port_v6(const struct rt_port *p)
{
	for (unsigned i = 0; i < p->naddrs; i++)
		if (p->addrs[i].family == AF_INET6)
			return p->addrs[i].addr;
	return p->v6ll;
}

/* Token bucket for ICMP errors: rt->icmp_rate per second, rt->icmp_burst deep. */
static int icmp_allow(struct rt_worker *w)
{
	const struct rt *rt = w->rt;
	uint64_t cap = (uint64_t)rt->icmp_burst * 1000;
	if (w->now > w->icmp_last) {
		/* dt * rate wraps past 2^64 after 2^64 / rate ns (5 h at 1000000/s): cap first */
		uint64_t dt = w->now - w->icmp_last, add = rt->icmp_rate ? cap : 0;
		if (rt->icmp_rate && dt < cap * 1000000 / rt->icmp_rate)
			add = dt * rt->icmp_rate / 1000000;
		w->icmp_tokens_milli += add;
		if (w->icmp_tokens_milli > cap)
			w->icmp_tokens_milli = cap;
		w->icmp_last = w->now;
	}
	if (w->icmp_tokens_milli < 1000)
		return 0;
	w->icmp_tokens_milli -= 1000;
	return 1;
}

/* Hands a frame to the host ring (of its port, else of the first port that has one). */
static void punt(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v)
{
	const struct rt *rt = w->rt;
	int hp = rt->port[p->port].host ? p->port : rt->first_host;
	if (hp < 0) {
		drop(w, v, RT_DROP_NO_HOST);
		return;
	}
	if (!(p->data[0] & 1)) /* unicast to us: make it the TAP's own address */
		memcpy(p->data, rt->port[hp].host_mac, 6);
	v->action = RT_ACT_HOST;
	v->port = (uint16_t)hp;
	v->len = p->len;
	w->st.punted++;
}

static void send_back(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v,
                      const uint8_t *dmac)
{
	memcpy(p->data, dmac, 6);
	memcpy(p->data + 6, w->rt->port[p->port].mac, 6);
	v->action = RT_ACT_TX;
	v->port = p->port;
	v->len = p->len;
}

/* ================================================================ neighbors: resolution */

/*
 * Builds and emits an ARP request or a neighbor solicitation for e (under neigh_lock).
 * unicast (reachability probe of a PROBE entry): to e's cached MAC, and for ND to the
 * target address itself (RFC 4861 7.2.2, 7.3.3), instead of broadcast / solicited-node.
 */
static void neigh_probe(struct rt_worker *w, const struct rt_neigh_ent *e, int unicast)
{
	const struct rt_port *p = &w->rt->port[e->port];
	uint8_t f[128];
	memset(f, 0, sizeof(f));
	if (e->family == AF_INET) {
		uint32_t tpa, spa;
		memcpy(&tpa, e->addr, 4);
		spa = port_v4_for(p, tpa);
		memcpy(f, unicast ? e->mac : bcast_mac, 6);
		memcpy(f + 6, p->mac, 6);
		wr16(f + 12, ET_ARP);
		uint8_t *a = f + 14;
		wr16(a, 1);
		wr16(a + 2, ET_IP4);
		a[4] = 6;
		a[5] = 4;
		wr16(a + 6, 1);
		memcpy(a + 8, p->mac, 6);
		memcpy(a + 14, &spa, 4);
		memcpy(a + 24, &tpa, 4);
		w->ops->emit(w, e->port, f, 60);
	} else {
		const uint8_t *t = e->addr;
		uint8_t *ip = f + 14, *ic = ip + 40;
		if (unicast) { /* to the cached MAC and the target itself (RFC 4861 7.3.3) */
			memcpy(f, e->mac, 6);
			memcpy(ip + 24, t, 16);
		} else { /* to the solicited-node group ff02::1:ffXX:XXXX (RFC 4861 7.2.2) */
			static const uint8_t snm[13] = {0xff, 0x02, 0, 0, 0, 0,   0,
			                                0,    0,    0, 0, 1, 0xff};
			f[0] = 0x33;
			f[1] = 0x33;
			f[2] = 0xff;
			memcpy(f + 3, t + 13, 3);
			memcpy(ip + 24, snm, 13);
			memcpy(ip + 37, t + 13, 3);
		}
		memcpy(f + 6, p->mac, 6);
		wr16(f + 12, ET_IP6);
		ip[0] = 0x60;
		wr16(ip + 4, 32);
		ip[6] = IPPROTO_ICMP6;
		ip[7] = 255;
		memcpy(ip + 8, port_v6(p), 16);
		ic[0] = ND_NS;
		memcpy(ic + 8, t, 16);
		ic[24] = 1; /* source link-layer address option */
		ic[25] = 1;
		memcpy(ic + 26, p->mac, 6);
		wr16(ic + 2, 0);
		uint16_t c = icmp6_csum(ip, ic, 32);
		memcpy(ic + 2, &c, 2);
		w->ops->emit(w, e->port, f, 14 + 40 + 32);
	}
	w->st.arp_nd_sent++;
}

static void neigh_set(struct rt_neigh_ent *e, int state, const uint8_t *mac)
{
	rt_neigh_write_begin(e);
	e->state = (uint8_t)state;
	if (mac)
		memcpy(e->mac, mac, 6);
	rt_neigh_write_end(e);
}

/* Sends (w != NULL) or frees the held packets of a resolved entry (under neigh_lock). */
static void neigh_flush(struct rt *rt, struct rt_worker *w, struct rt_neigh_ent *e)
{
	if (!w)
		return; /* the next tick of worker 0 sends them */
	const struct rt_port *p = &rt->port[e->port];
	for (unsigned i = 0; i < e->nhold; i++) {
		uint8_t *d = w->ops->held_data(w, &e->hold[i]);
		memcpy(d, e->mac, 6);
		memcpy(d + 6, p->mac, 6);
		w->ops->send_held(w, &e->hold[i], e->port, !(e->hold_gen & (1u << i)));
	}
	e->nhold = 0;
}

static void neigh_drop_held(struct rt_worker *w, struct rt_neigh_ent *e)
{
	for (unsigned i = 0; i < e->nhold; i++) {
		w->ops->free_held(w, &e->hold[i]);
		w->st.drops[RT_DROP_NO_NEIGH]++;
	}
	e->nhold = 0;
}

void rt_neigh_learn(struct rt *rt, struct rt_worker *w, int family, const uint8_t *addr,
                    unsigned port, const uint8_t mac[6], int state, int create)
{
	pthread_mutex_lock(&rt->neigh_lock);
	int i = create ? rt_neigh_slot_locked(rt, family, addr, port, w ? w->now : rt_now_ns())
	               : rt_neigh_find(rt, family, addr, port);
	if (i < 0)
		goto out;
	struct rt_neigh_ent *e = &rt->neigh[i];
	if (!create && e->state == RT_NUD_NONE)
		goto out;
	if (e->state == RT_NUD_PERMANENT && state != RT_NUD_PERMANENT)
		goto out; /* a static entry is not overridden by what the wire says */
	if (!mac && !nud_usable(e->state))
		goto out; /* a confirmation without an address needs a MAC (RFC 4861 7.2.5) */
	if (state == RT_NUD_STALE && mac && nud_usable(e->state) && !memcmp(e->mac, mac, 6))
		goto out; /* an NS with the MAC we have changes nothing (RFC 4861 7.2.3) */
	neigh_set(e, state, mac);
	e->t_changed = w ? w->now : rt_now_ns();
	e->probes = 0;
	neigh_flush(rt, w, e);
out:
	pthread_mutex_unlock(&rt->neigh_lock);
}

/*
 * Slow path of a packet whose next hop has no usable entry: create the entry (INCOMPLETE),
 * send the first probe, and park the buffer in its hold queue. Returns 1 if the entry turned
 * out to be usable after all (resolved by another thread meanwhile; mac filled).
 * own: the packet already lives in a held buffer (an ICMP error built by rt_neigh_tick), which
 * is parked as is instead of stealing burst slot i, and freed when the packet is dropped.
 */
static int neigh_hold(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v, unsigned i,
                      int family, const uint8_t *target, unsigned port, int fwd, uint8_t mac[6],
                      const struct rt_held *own)
{
	_Static_assert(RT_HOLD_MAX <= 8, "rt_neigh_ent.hold_gen has one bit per held packet");
	struct rt *rt = w->rt;
	int ret = 0;
	pthread_mutex_lock(&rt->neigh_lock);
	int ni = rt_neigh_slot_locked(rt, family, target, port, w->now);
	if (ni < 0) {
		drop(w, v, RT_DROP_NO_NEIGH);
		goto out;
	}
	struct rt_neigh_ent *e = &rt->neigh[ni];
	if (nud_usable(e->state)) {
		memcpy(mac, e->mac, 6);
		ret = 1;
		goto out;
	}
	if (e->state == RT_NUD_FAILED && w->now < e->t_next) {
		drop(w, v, RT_DROP_NO_NEIGH);
		goto out;
	}
	if (e->state != RT_NUD_INCOMPLETE) {
		neigh_set(e, RT_NUD_INCOMPLETE, NULL);
		e->t_changed = w->now;
		e->probes = 0;
	}
	if (e->nhold >= RT_HOLD_MAX) {
		drop(w, v, RT_DROP_HOLD_FULL);
	} else {
		uint32_t tok = own ? own->buf : w->ops->steal(w, i);
		if (!tok) {
			drop(w, v, RT_DROP_NO_BUF);
		} else {
			uint8_t bit = (uint8_t)(1u << e->nhold);
			e->hold_gen = (uint8_t)(fwd ? e->hold_gen & ~bit : e->hold_gen | bit);
			e->hold[e->nhold++] =
			    (struct rt_held){tok, p->len, own ? own->port : p->port};
			v->action = RT_ACT_HELD;
		}
	}
	if (e->probes == 0) {
		neigh_probe(w, e, 0);
		e->probes = 1;
		e->t_next = w->now + RT_NEIGH_RETRANS_NS;
	}
out:
	pthread_mutex_unlock(&rt->neigh_lock);
	if (own && !ret && v->action == RT_ACT_DROP)
		w->ops->free_held(w, own);
	return ret;
}

/* A STALE entry was used to forward: DELAY, then PROBE unless confirmed (RFC 4861 7.3.3). */
static void neigh_stale_used(struct rt_worker *w, int family, const uint8_t *target, unsigned port)
{
	struct rt *rt = w->rt;
	pthread_mutex_lock(&rt->neigh_lock);
	int ni = rt_neigh_find(rt, family, target, port); /* it may have moved meanwhile */
	struct rt_neigh_ent *e = ni >= 0 ? &rt->neigh[ni] : NULL;
	if (e && e->state == RT_NUD_STALE) {
		neigh_set(e, RT_NUD_DELAY, NULL);
		e->t_changed = w->now;
		e->t_next = w->now + RT_NEIGH_DELAY_NS;
		e->probes = 0;
	}
	pthread_mutex_unlock(&rt->neigh_lock);
}

/*
 * Sends p to target (the gateway, or the destination itself) on port: rewrites the Ethernet
 * header from the neighbor entry, or holds the packet while the entry resolves. fwd: p is
 * being forwarded, not built by the router (v->fwd, or send_held's fwd for a held copy: the
 * I/O layer counts it forwarded once it is on a TX ring).
 * own: p is in a held buffer (see neigh_hold), sent with send_held instead of a verdict.
 * Returns 1 if the packet is on its way (TX or HELD).
 */
static int neigh_out(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v, unsigned i,
                     int family, const uint8_t *target, unsigned port, int fwd,
                     const struct rt_held *own)
{
	const struct rt *rt = w->rt;
	uint8_t mac[6];
	int st = rt_neigh_lookup(rt, family, target, port, mac);
	if (unlikely(!nud_usable(st))) {
		if (!neigh_hold(w, p, v, i, family, target, port, fwd, mac, own))
			return v->action == RT_ACT_HELD;
	} else if (unlikely(st == RT_NUD_STALE)) {
		/* once per STALE period: the entry leaves STALE */
		neigh_stale_used(w, family, target, port);
	}
	memcpy(p->data, mac, 6);
	memcpy(p->data + 6, rt->port[port].mac, 6);
	v->action = RT_ACT_TX;
	v->port = (uint16_t)port;
	v->len = p->len;
	v->fwd = (uint8_t)fwd; /* counted forwarded by the I/O layer once on the ring */
	if (own) {
		struct rt_held h = {own->buf, p->len, own->port};
		w->ops->send_held(w, &h, port, fwd);
	}
	return 1;
}

static void route_generated(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v, unsigned i,
                            const struct rt_held *own);
static int icmp4_error(struct rt_worker *w, struct rt_pkt *p, uint8_t type, uint8_t code,
                       uint32_t word, int reason);
static int icmp6_error(struct rt_worker *w, struct rt_pkt *p, uint8_t type, uint8_t code,
                       uint32_t word, int reason);

/*
 * Held packets of an entry whose resolution failed (taken out of it, neigh_lock released):
 * each forwarded one becomes an ICMP Destination Unreachable, host (v4, code 1) / address
 * unreachable (v6, code 3), to its source in its own buffer (RFC 1812 4.3.3.1, RFC 4443 3.1),
 * with the usual exceptions and rate limit; the packet counts as no_neigh (icmp_rate when
 * the bucket suppressed its error). Packets the router built itself are just dropped.
 */
static void neigh_unreach(struct rt_worker *w, const struct rt_held *held, unsigned n, uint8_t gen)
{
	for (unsigned k = 0; k < n; k++) {
		const struct rt_held *h = &held[k];
		if (gen & (1u << k)) {
			w->ops->free_held(w, h);
			w->st.drops[RT_DROP_NO_NEIGH]++;
			continue;
		}
		uint8_t *d = w->ops->held_data(w, h);
		struct rt_pkt p = {.data = d, .len = h->len, .port = h->port};
		uint8_t *ip = d + ETH_HLEN_;
		int v6 = rd16(d + 12) == ET_IP6, r;
		/* quote the packet as received: undo route4/route6's TTL / hop limit decrement */
		if (v6) {
			ip[7]++;
			r = icmp6_error(w, &p, ICMP6_UNREACH, 3, 0, RT_DROP_NO_NEIGH);
		} else {
			ttl4_add(ip, 1);
			r = icmp4_error(w, &p, ICMP4_UNREACH, 1, 0, RT_DROP_NO_NEIGH);
		}
		if (r) {
			w->ops->free_held(w, h);
			w->st.drops[r]++;
			continue;
		}
		w->st.drops[RT_DROP_NO_NEIGH]++;
		struct rt_verdict v = {.action = RT_ACT_DROP};
		struct rt_held own = {h->buf, p.len, h->port};
		route_generated(w, &p, &v, 0, &own);
	}
}

/* The periodic GC may remove e now (under neigh_lock, or as a hint without it): deleted
 * entries at once; STALE and FAILED ones idle RT_NEIGH_GC_STALE_NS when gc is set (the table
 * held more than RT_NEIGH_GC_MIN entries when this tick began, as Linux's gc_thresh1). */
static int neigh_gc_due(const struct rt_neigh_ent *e, uint64_t now, int gc)
{
	int c = rt_neigh_gc_class(e, now);
	if (c == 1 && e->state == RT_NUD_NONE)
		return 1;
	return gc && (c == 1 || c == 2) && now > e->t_changed &&
	       now - e->t_changed >= RT_NEIGH_GC_STALE_NS;
}

void rt_neigh_tick(struct rt_worker *w)
{
	struct rt *rt = w->rt;
	int gc = __atomic_load_n(&rt->neigh_count, __ATOMIC_RELAXED) > RT_NEIGH_GC_MIN;
	for (unsigned i = 0; i < RT_NEIGH_SLOTS; i++) {
		struct rt_neigh_ent *e = &rt->neigh[i];
		if (!__atomic_load_n(&e->used, __ATOMIC_ACQUIRE))
			continue;
		int st = e->state;
		if (!(st == RT_NUD_INCOMPLETE || st == RT_NUD_DELAY || st == RT_NUD_PROBE ||
		      e->nhold ||
		      (st == RT_NUD_REACHABLE && w->now - e->t_changed > RT_NEIGH_STALE_NS) ||
		      neigh_gc_due(e, w->now, gc)))
			continue;
		struct rt_held failed[RT_HOLD_MAX];
		unsigned nfailed = 0;
		uint8_t failed_gen = 0;
		pthread_mutex_lock(&rt->neigh_lock);
		st = e->state;
		if ((st == RT_NUD_INCOMPLETE || st == RT_NUD_PROBE) && w->now >= e->t_next) {
			if (e->probes < RT_NEIGH_PROBES) {
				neigh_probe(w, e, st == RT_NUD_PROBE);
				e->probes++;
				e->t_next = w->now + RT_NEIGH_RETRANS_NS;
			} else {
				neigh_set(e, RT_NUD_FAILED, NULL);
				e->t_changed = w->now;
				/* a lost resolution waits out the hold-down; a neighbor that was
				 * reachable (failed PROBE: it may have moved to a new MAC) is
				 * resolved again, by broadcast, by the next packet */
				e->t_next =
				    w->now + (st == RT_NUD_INCOMPLETE ? RT_NEIGH_HOLDDOWN_NS : 0);
				nfailed = e->nhold;
				failed_gen = e->hold_gen;
				memcpy(failed, e->hold, nfailed * sizeof(failed[0]));
				e->nhold = 0;
			}
		} else if (st == RT_NUD_DELAY && w->now >= e->t_next) {
			neigh_set(e, RT_NUD_PROBE, NULL);
			e->t_changed = w->now;
			neigh_probe(w, e, 1);
			e->probes = 1;
			e->t_next = w->now + RT_NEIGH_RETRANS_NS;
		} else if (nud_usable(st) && e->nhold) {
			neigh_flush(rt, w, e);
		} else if ((st == RT_NUD_NONE || st == RT_NUD_FAILED) && e->nhold) {
			neigh_drop_held(w, e);
		}
		if (e->state == RT_NUD_REACHABLE && w->now - e->t_changed > RT_NEIGH_STALE_NS)
			neigh_set(e, RT_NUD_STALE, NULL);
		int removed = e->used && neigh_gc_due(e, w->now, gc);
		if (removed) {
			rt_neigh_remove_locked(rt, i);
			rt->neigh_reclaimed += st != RT_NUD_NONE; /* a delete is no reclaim */
		}
		pthread_mutex_unlock(&rt->neigh_lock);
		if (nfailed)
			neigh_unreach(w, failed, nfailed, failed_gen);
		if (removed)
			i--; /* slot i may now hold an entry that moved back into it */
	}
}

/* ================================================================ ARP */

static void arp_input(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v)
{
	struct rt *rt = w->rt;
	const struct rt_port *port = &rt->port[p->port];
	uint8_t *a = p->data + ETH_HLEN_;
	if (p->len < ETH_HLEN_ + 28 || rd16(a) != 1 || rd16(a + 2) != ET_IP4 || a[4] != 6 ||
	    a[5] != 4) {
		drop(w, v, RT_DROP_BAD_L2);
		return;
	}
	uint16_t op = rd16(a + 6);
	uint32_t spa, tpa;
	memcpy(&spa, a + 14, 4);
	memcpy(&tpa, a + 24, 4);
	int ours = is_our_v4(port, tpa);
	if (spa && !(a[8] & 1)) /* RFC 826 merge: update if known, create if we are the target */
		rt_neigh_learn(rt, w, AF_INET, (const uint8_t *)&spa, p->port, a + 8,
		               RT_NUD_REACHABLE, ours);
	if (ours && op == 1) {
		uint8_t sha[6];
		memcpy(sha, a + 8, 6);
		wr16(a + 6, 2);
		memcpy(a + 18, sha, 6);
		memcpy(a + 24, &spa, 4);
		memcpy(a + 8, port->mac, 6);
		memcpy(a + 14, &tpa, 4);
		send_back(w, p, v, sha);
		w->st.local_replies++;
		return;
	}
	if (port->host) {
		punt(w, p, v);
	} else if (ours && op == 2) {
		v->action = RT_ACT_DROP;
		v->reason = RT_DROP_MAX; /* consumed, not a drop */
		w->st.consumed++;
	} else {
		drop(w, v, RT_DROP_OTHER);
	}
}

/* ================================================================ IPv4 */

/* Checks a frame as RFC 1812 5.2.2 asks. Returns 0 if it may go on, else a drop reason. */
static int ip4_check(const struct rt_pkt *p)
{
	const uint8_t *ip = p->data + ETH_HLEN_;
	if (unlikely(p->len < ETH_HLEN_ + 20))
		return RT_DROP_BAD_LEN;
	if (unlikely((ip[0] >> 4) != 4))
		return RT_DROP_BAD_VERSION;
	unsigned hl = (ip[0] & 15u) * 4;
	if (unlikely(hl < 20))
		return RT_DROP_BAD_IHL;
	if (unlikely(ETH_HLEN_ + hl > p->len))
		return RT_DROP_BAD_LEN;
	if (unlikely(csum_fold(csum_add(0, ip, hl)) != 0xffff))
		return RT_DROP_BAD_CSUM;
	unsigned tot = rd16(ip + 2);
	if (unlikely(tot < hl || ETH_HLEN_ + tot > p->len))
		return RT_DROP_BAD_LEN;
	uint32_t s = rd32(ip + 12), d = rd32(ip + 16);
	/* martians (RFC 1812 5.3.7, 4.2.2.11): this-network, loopback, class D/E sources;
	 * this-network, loopback and class E destinations */
	uint8_t s8 = (uint8_t)(s >> 24), d8 = (uint8_t)(d >> 24);
	if (unlikely(s8 == 0 || s8 == 127 || s8 >= 224))
		return RT_DROP_MARTIAN;
	if (unlikely(d8 == 0 || d8 == 127 || (d8 >= 240 && d != 0xffffffffu)))
		return RT_DROP_MARTIAN;
	return 0;
}

/*
 * What an ICMP and an ICMPv6 error share: the first q = min(tot, quote_max) bytes of the
 * packet at ip move behind room for an hlen-byte IP header and the 8-byte ICMP header; the
 * room is zeroed and the ICMP type, code and word (the 32 bits after the checksum) filled
 * in. The caller has saved the source address; it completes the IP header and the
 * checksum. Returns q.
 */
static unsigned icmp_quote(uint8_t *ip, unsigned tot, unsigned quote_max, unsigned hlen,
                           uint8_t type, uint8_t code, uint32_t word)
{
	unsigned q = tot < quote_max ? tot : quote_max;
	memmove(ip + hlen + 8, ip, q);
	memset(ip, 0, hlen + 8);
	uint8_t *ic = ip + hlen;
	ic[0] = type;
	ic[1] = code;
	wr32(ic + 4, word);
	return q;
}

/*
 * Rewrites the IPv4 packet in p into an ICMP error about it (in place), addressed to its
 * source. word: the 32 bits after the checksum (0 but for Fragmentation Needed, whose low 16
 * carry the next-hop MTU, RFC 1191). Returns 0 when built, else the reason to drop the
 * original instead.
 */
static int icmp4_error(struct rt_worker *w, struct rt_pkt *p, uint8_t type, uint8_t code,
                       uint32_t word, int reason)
{
	const struct rt *rt = w->rt;
	uint8_t *ip = p->data + ETH_HLEN_;
	unsigned hl = (ip[0] & 15u) * 4, tot = rd16(ip + 2);
	uint32_t dst = rd32(ip + 16);
	if ((rd16(ip + 6) & 0x1fff) || (dst >> 28) == 0xe || dst == 0xffffffffu || (p->data[0] & 1))
		return reason; /* not about fragments other than the first, nor multicast */
	if (ip[9] == IPPROTO_ICMP_ && tot >= hl + 1) {
		uint8_t t = ip[hl];
		if (t == 3 || t == 4 || t == 5 || t == 11 || t == 12)
			return reason; /* never about an ICMP error */
	}
	uint32_t src = port_v4(&rt->port[p->port]);
	for (unsigned i = 0; !src && i < rt->nports; i++)
		src = port_v4(&rt->port[i]);
	if (!src)
		return reason;
	if (!icmp_allow(w))
		return RT_DROP_ICMP_RATE;
	uint8_t osrc[4];
	memcpy(osrc, ip + 12, 4);
	unsigned q = icmp_quote(ip, tot, ICMP4_QUOTE_MAX, 20, type, code, word);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(28 + q));
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP_;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, osrc, 4);
	ip4_csum_set(ip, 20);
	uint16_t c = csum_final(csum_add(0, ip + 20, 8 + q));
	memcpy(ip + 22, &c, 2);
	p->len = (uint16_t)(ETH_HLEN_ + 28 + q);
	w->st.icmp_sent++;
	return 0;
}

/* Our own address: to the host stack, or (without one) answer echo requests ourselves. */
static int local4(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v)
{
	const struct rt *rt = w->rt;
	uint8_t *ip = p->data + ETH_HLEN_;
	unsigned hl = (ip[0] & 15u) * 4, tot = rd16(ip + 2);
	if (rt->first_host >= 0) {
		punt(w, p, v);
		return 0;
	}
	if (ip[9] != IPPROTO_ICMP_ || tot < hl + 8 || ip[hl] != ICMP4_ECHO || ip[hl + 1] != 0 ||
	    (rd16(ip + 6) & 0x3fff)) {
		drop(w, v, RT_DROP_NO_HOST);
		return 0;
	}
	uint8_t t[4];
	memcpy(t, ip + 12, 4);
	memcpy(ip + 12, ip + 16, 4);
	memcpy(ip + 16, t, 4);
	ip[8] = 64;
	ip4_csum_set(ip, hl);
	uint8_t *ic = ip + hl;
	uint16_t old, nw, hc;
	memcpy(&old, ic, 2);
	ic[0] = ICMP4_ECHOREPLY;
	memcpy(&nw, ic, 2);
	memcpy(&hc, ic + 2, 2);
	hc = csum_update16(hc, old, nw);
	memcpy(ic + 2, &hc, 2);
	w->st.local_replies++;
	return 1; /* route the reply */
}

/* ================================================================ IPv6 */

static int ip6_check(const struct rt_pkt *p)
{
	const uint8_t *ip = p->data + ETH_HLEN_;
	if (unlikely(p->len < ETH_HLEN_ + 40))
		return RT_DROP_BAD_LEN;
	if (unlikely((ip[0] >> 4) != 6))
		return RT_DROP_BAD_VERSION;
	if (unlikely(ETH_HLEN_ + 40u + rd16(ip + 4) > p->len))
		return RT_DROP_BAD_LEN;
	static const uint8_t zero[16], lo[16] = {[15] = 1};
	const uint8_t *s = ip + 8, *d = ip + 24;
	if (unlikely(s[0] == 0xff || !memcmp(s, lo, 16)))
		return RT_DROP_MARTIAN;
	if (unlikely(!memcmp(d, lo, 16) || !memcmp(d, zero, 16)))
		return RT_DROP_MARTIAN;
	return 0;
}

/* The same for IPv6 (word: the MTU of a Packet Too Big, RFC 4443 3.2). */
static int icmp6_error(struct rt_worker *w, struct rt_pkt *p, uint8_t type, uint8_t code,
                       uint32_t word, int reason)
{
	const struct rt *rt = w->rt;
	static const uint8_t zero[16];
	uint8_t *ip = p->data + ETH_HLEN_;
	unsigned tot = 40u + rd16(ip + 4);
	if (ip[24] == 0xff || ip[8] == 0xff || !memcmp(ip + 8, zero, 16) || (p->data[0] & 1))
		return reason;
	/* never about an ICMPv6 error, also behind hop-by-hop, routing, fragment (the first) and
	 * destination options headers */
	unsigned off = 40, nxt = ip[6];
	for (int k = 0; k < 8 && (nxt == 0 || nxt == 43 || nxt == 44 || nxt == 60); k++) {
		if (off + 8 > tot || (nxt == 44 && (rd16(ip + off + 2) & 0xfff8)))
			break;
		unsigned hl = nxt == 44 ? 8 : (ip[off + 1] + 1u) * 8;
		nxt = ip[off];
		off += hl;
	}
	if (nxt == IPPROTO_ICMP6 && off < tot && ip[off] < 128)
		return reason;
	if (!icmp_allow(w))
		return RT_DROP_ICMP_RATE;
	uint8_t osrc[16];
	memcpy(osrc, ip + 8, 16);
	unsigned q = icmp_quote(ip, tot, ICMP6_QUOTE_MAX, 40, type, code, word);
	ip[0] = 0x60;
	wr16(ip + 4, (uint16_t)(8 + q));
	ip[6] = IPPROTO_ICMP6;
	ip[7] = 64;
	memcpy(ip + 8, port_v6(&rt->port[p->port]), 16);
	memcpy(ip + 24, osrc, 16);
	uint16_t c = icmp6_csum(ip, ip + 40, 8 + q);
	memcpy(ip + 42, &c, 2);
	p->len = (uint16_t)(ETH_HLEN_ + 48 + q);
	w->st.icmp_sent++;
	return 0;
}

/* Finds ND option `type` in [o, end); returns its 6-byte link-layer address or NULL. */
static const uint8_t *nd_lladdr(const uint8_t *o, const uint8_t *end, uint8_t type)
{
	while (o + 8 <= end && o[1]) {
		if (o[0] == type && o[1] == 1)
			return o + 2;
		o += o[1] * 8u;
	}
	return NULL;
}

/* An NA with a target link-layer address ll for a known entry, as RFC 4861 7.2.5 says:
 * flags is the NA's R|S|O byte. */
static void nd_na_learn(struct rt_worker *w, const uint8_t *target, unsigned port,
                        const uint8_t *ll, uint8_t flags)
{
	struct rt *rt = w->rt;
	int sol = flags & 0x40, ovr = flags & 0x20, nst;
	const uint8_t *mac = ll;
	pthread_mutex_lock(&rt->neigh_lock);
	int i = rt_neigh_find(rt, AF_INET6, target, port);
	if (i < 0)
		goto out;
	struct rt_neigh_ent *e = &rt->neigh[i];
	int st = e->state, changed = memcmp(ll, e->mac, 6) != 0;
	if (st == RT_NUD_NONE || st == RT_NUD_PERMANENT)
		goto out;
	if (!nud_usable(st)) { /* INCOMPLETE (or FAILED) */
		nst = sol ? RT_NUD_REACHABLE : RT_NUD_STALE;
	} else if (changed && !ovr) { /* keep the MAC; a REACHABLE entry becomes STALE */
		if (st != RT_NUD_REACHABLE)
			goto out;
		nst = RT_NUD_STALE;
		mac = NULL;
	} else if (sol) {
		nst = RT_NUD_REACHABLE;
	} else if (changed) {
		nst = RT_NUD_STALE;
	} else {
		goto out; /* unsolicited, same MAC: nothing changes */
	}
	neigh_set(e, nst, mac);
	e->t_changed = w->now;
	e->probes = 0;
	neigh_flush(rt, w, e);
out:
	pthread_mutex_unlock(&rt->neigh_lock);
}

/* Neighbor discovery: answers NS for our addresses, learns from NS/NA (RFC 4861 7.2). */
static void nd_input(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v)
{
	struct rt *rt = w->rt;
	const struct rt_port *port = &rt->port[p->port];
	uint8_t *ip = p->data + ETH_HLEN_, *ic = ip + 40;
	unsigned plen = rd16(ip + 4);
	const uint8_t *end = ic + plen;
	static const uint8_t zero[16];
	/* icmp6_csum over a message with its checksum in place yields 0 when it is valid */
	if (ip[7] != 255 || plen < 24 || icmp6_csum(ip, ic, plen) != 0 || ic[1] != 0) {
		drop(w, v, RT_DROP_BAD_L2);
		return;
	}
	const uint8_t *target = ic + 8;
	if (ic[0] == ND_NA) {
		const uint8_t *ll = nd_lladdr(ic + 24, end, 2);
		if (ll && !(ll[0] & 1))
			nd_na_learn(w, target, p->port, ll, ic[4]);
		else if (!ll && (ic[4] & 0x40)) /* solicited, no TLLA (RFC 4861 7.2.4, 7.2.5) */
			rt_neigh_learn(rt, w, AF_INET6, target, p->port, NULL, RT_NUD_REACHABLE, 0);
		if (port->host) {
			punt(w, p, v);
		} else {
			v->action = RT_ACT_DROP;
			v->reason = RT_DROP_MAX;
			w->st.consumed++;
		}
		return;
	}
	/* NS */
	if (!is_our_v6(port, target)) {
		if (port->host)
			punt(w, p, v);
		else
			drop(w, v, RT_DROP_OTHER);
		return;
	}
	int dad = !memcmp(ip + 8, zero, 16);
	const uint8_t *ll = nd_lladdr(ic + 24, end, 1);
	uint8_t dmac[6];
	if (!dad && ll && !(ll[0] & 1))
		rt_neigh_learn(rt, w, AF_INET6, ip + 8, p->port, ll, RT_NUD_STALE, 1);
	uint8_t tgt[16];
	memcpy(tgt, target, 16);
	if (dad) {
		static const uint8_t all_nodes[16] = {0xff, 2, [15] = 1};
		memcpy(ip + 24, all_nodes, 16);
		memcpy(dmac, (const uint8_t[6]){0x33, 0x33, 0, 0, 0, 1}, 6);
	} else {
		memcpy(ip + 24, ip + 8, 16);
		memcpy(dmac, ll ? ll : p->data + 6, 6);
	}
	memcpy(ip + 8, tgt, 16);
	wr16(ip + 4, 32);
	ip[0] = 0x60;
	ip[1] = ip[2] = ip[3] = 0;
	ip[6] = IPPROTO_ICMP6;
	ip[7] = 255;
	memset(ic, 0, 32);
	ic[0] = ND_NA;
	ic[4] = (uint8_t)(0x80 | (dad ? 0 : 0x40) | 0x20); /* Router, Solicited, Override */
	memcpy(ic + 8, tgt, 16);
	ic[24] = 2; /* target link-layer address */
	ic[25] = 1;
	memcpy(ic + 26, port->mac, 6);
	uint16_t c = icmp6_csum(ip, ic, 32);
	memcpy(ic + 2, &c, 2);
	p->len = ETH_HLEN_ + 40 + 32;
	send_back(w, p, v, dmac);
	w->st.local_replies++;
}

static int local6(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v)
{
	const struct rt *rt = w->rt;
	uint8_t *ip = p->data + ETH_HLEN_, *ic = ip + 40;
	if (rt->first_host >= 0) {
		punt(w, p, v);
		return 0;
	}
	if (ip[6] != IPPROTO_ICMP6 || rd16(ip + 4) < 8 || ic[0] != ICMP6_ECHO || ic[1] != 0) {
		drop(w, v, RT_DROP_NO_HOST);
		return 0;
	}
	uint8_t t[16];
	memcpy(t, ip + 8, 16);
	memcpy(ip + 8, ip + 24, 16);
	memcpy(ip + 24, t, 16);
	ip[7] = 64;
	uint16_t old, nw, hc;
	memcpy(&old, ic, 2);
	ic[0] = ICMP6_ECHOREPLY;
	memcpy(&nw, ic, 2);
	memcpy(&hc, ic + 2, 2);
	hc = csum_update16(hc, old, nw); /* the pseudo-header sum is unchanged by the swap */
	memcpy(ic + 2, &hc, 2);
	w->st.local_replies++;
	return 1;
}

/* ================================================================ the burst */

enum { C_DONE = 0, C_V4, C_V6, C_GEN };

static int classify(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v)
{
	struct rt *rt = w->rt;
	const struct rt_port *port = &rt->port[p->port];
	uint8_t *d = p->data;
	int r;
	if (unlikely(p->len < ETH_HLEN_)) {
		drop(w, v, RT_DROP_BAD_L2);
		return C_DONE;
	}
	if (unlikely(!(d[0] & 1) && memcmp(d, port->mac, 6) && memcmp(d, port->host_mac, 6))) {
		drop(w, v, RT_DROP_BAD_L2); /* unicast to someone else */
		return C_DONE;
	}
	uint16_t et = rd16(d + 12);
	if (likely(et == ET_IP4)) {
		if (unlikely((r = ip4_check(p)) != 0)) {
			drop(w, v, r);
			return C_DONE;
		}
		uint32_t dst = rd32(d + ETH_HLEN_ + 16);
		if (unlikely(dst >= 0xe0000000u)) { /* multicast, limited broadcast */
			punt(w, p, v);
			return C_DONE;
		}
		return C_V4;
	}
	if (et == ET_IP6) {
		if (unlikely((r = ip6_check(p)) != 0)) {
			drop(w, v, r);
			return C_DONE;
		}
		const uint8_t *ip = d + ETH_HLEN_;
		if (ip[6] == IPPROTO_ICMP6 && rd16(ip + 4) >= 24 &&
		    (ip[40] == ND_NS || ip[40] == ND_NA)) {
			nd_input(w, p, v);
			return C_DONE;
		}
		if (ip[24] == 0xff) { /* multicast: RS/RA/MLD/... belong to the host */
			punt(w, p, v);
			return C_DONE;
		}
		if (ip[24] == 0xfe && (ip[25] & 0xc0) == 0x80) { /* link-local */
			if (!memcmp(ip + 24, port->v6ll, 16)) {
				if (local6(w, p, v))
					return C_GEN; /* an echo reply to route */
			} else {
				drop(w, v, RT_DROP_OTHER);
			}
			return C_DONE;
		}
		return C_V6;
	}
	if (et == ET_ARP) {
		arp_input(w, p, v);
		return C_DONE;
	}
	if (port->host)
		punt(w, p, v);
	else
		drop(w, v, RT_DROP_BAD_L2);
	return C_DONE;
}

/* Routes a generated packet (ICMP error, echo reply) through a single lookup. own: the packet
 * is in a held buffer (an error about a packet whose next hop failed), see neigh_out. */
static void route_generated(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v, unsigned i,
                            const struct rt_held *own)
{
	struct rt *rt = w->rt;
	const uint8_t *ip = p->data + ETH_HLEN_;
	int v6 = rd16(p->data + 12) == ET_IP6;
	uint32_t nhid;
	uint8_t tgt[16] = {0};
	if (v6) {
		rt_fib6_lookup_bulk(rt->fib6, (const uint8_t(*)[16])(ip + 24), &nhid, 1);
		memcpy(tgt, ip + 24, 16);
	} else {
		uint32_t k = rd32(ip + 16);
		rt_fib4_lookup_bulk(rt->fib4, &k, &nhid, 1);
		memcpy(tgt, ip + 16, 4);
	}
	/* a link-local destination is on the link it came from */
	if (v6 && tgt[0] == 0xfe && (tgt[1] & 0xc0) == 0x80) {
		neigh_out(w, p, v, i, AF_INET6, tgt, p->port, 0, own);
		return;
	}
	if (nhid == RT_FIB_MISS) {
		if (own)
			w->ops->free_held(w, own);
		drop(w, v, RT_DROP_NO_ROUTE);
		return;
	}
	const struct rt_nh *nh = &rt->nh[nhid];
	if (nh->kind == RT_NH_GW)
		memcpy(tgt, nh->gw, 16);
	else if (nh->kind != RT_NH_CONNECTED) {
		if (own)
			w->ops->free_held(w, own);
		drop(w, v, nh->kind == RT_NH_BLACKHOLE ? RT_DROP_NO_ROUTE : RT_DROP_OTHER);
		return;
	}
	neigh_out(w, p, v, i, v6 ? AF_INET6 : AF_INET, tgt, nh->port, 0, own);
}

/* The packet becomes an ICMP error back to its source (counted under reason and routed with
 * the generated ones), or is dropped when no error can be built. */
static inline void icmp_error_or_drop(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v,
                                      unsigned i, unsigned *ngen, int v6, uint8_t type,
                                      uint8_t code, uint32_t word, int reason)
{
	int r = v6 ? icmp6_error(w, p, type, code, word, reason)
	           : icmp4_error(w, p, type, code, word, reason);
	if (r != 0)
		drop(w, v, r);
	else {
		w->st.drops[reason]++;
		w->gen[(*ngen)++] = (uint16_t)i;
	}
}

/*
 * What route4 and route6 share: no route (ICMP unreachable), a local destination, a next
 * hop that does not forward, TTL / hop limit expiring (ICMP time exceeded). Returns the
 * next hop to forward through, or NULL when the packet was dealt with here. v6 is a
 * constant at each call, so each inlined copy keeps only its own family's branches.
 */
static inline const struct rt_nh *route_pre(struct rt_worker *w, struct rt_pkt *p,
                                            struct rt_verdict *v, unsigned i, uint32_t nhid,
                                            unsigned *ngen, int v6)
{
	const uint8_t *ip = p->data + ETH_HLEN_;
	if (unlikely(nhid == RT_FIB_MISS)) {
		icmp_error_or_drop(w, p, v, i, ngen, v6, v6 ? ICMP6_UNREACH : ICMP4_UNREACH, 0, 0,
		                   RT_DROP_NO_ROUTE);
		return NULL;
	}
	const struct rt_nh *nh = &w->rt->nh[nhid];
	if (unlikely(nh->kind == RT_NH_LOCAL)) {
		if (v6 ? local6(w, p, v) : local4(w, p, v))
			w->gen[(*ngen)++] = (uint16_t)i;
		return NULL;
	}
	if (unlikely(nh->kind != RT_NH_GW && nh->kind != RT_NH_CONNECTED)) {
		drop(w, v, RT_DROP_NO_ROUTE);
		return NULL;
	}
	if (unlikely(p->data[0] & 1)) { /* RFC 1812 5.3.4: no forwarding of L2 bcast/mcast */
		drop(w, v, RT_DROP_BAD_L2);
		return NULL;
	}
	if (unlikely(ip[v6 ? 7 : 8] <= 1)) { /* hop limit / TTL */
		icmp_error_or_drop(w, p, v, i, ngen, v6, v6 ? ICMP6_TIMXCEED : ICMP4_TIMXCEED, 0, 0,
		                   RT_DROP_TTL);
		return NULL;
	}
	return nh;
}

/*
 * The header of an IPv4 fragment after the first (RFC 791 3.2): the original's, with only
 * the options whose copy bit is set, padded with zeros (end of option list) to a multiple
 * of 4 bytes. A malformed option list ends the copy. Returns the header's length.
 */
static unsigned frag4_hdr(const uint8_t *ip, unsigned hl, uint8_t h[60])
{
	unsigned n = 20;
	memcpy(h, ip, 20);
	for (unsigned o = 20; o < hl;) {
		uint8_t t = ip[o];
		if (t == 0) /* end of option list */
			break;
		if (t == 1) { /* no operation: one byte, not copied */
			o++;
			continue;
		}
		unsigned l = o + 1 < hl ? ip[o + 1] : 0;
		if (l < 2 || o + l > hl)
			break;
		if (t & 0x80) {
			memcpy(h + n, ip + o, l);
			n += l;
		}
		o += l;
	}
	while (n & 3)
		h[n++] = 0;
	h[0] = (uint8_t)(0x40 | n / 4);
	return n;
}

/*
 * RFC 791 fragmentation of the IPv4 packet in p (DF clear, TTL already decremented) for an
 * egress MTU of mtu, to target on port: every fragment's data but the last's is a multiple
 * of 8 bytes, offsets and MF continue those of the packet (itself maybe a fragment), the
 * first fragment keeps all options, the others only those with the copy bit. The first
 * fragment stays in p's buffer (the verdict); the others are built in buffers taken from
 * the pool (io->alloc) and go to the same next hop behind it. Every buffer is taken before
 * anything changes: without enough (or with more than RT_FRAG_MAX fragments) the packet is
 * dropped as no_buf. A fragment after the first that cannot be sent or held counts under
 * its own drop reason (like a refused TX), beside the packet's outcome.
 */
static void frag4(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v, unsigned i,
                  const uint8_t *tgt, unsigned port, unsigned mtu)
{
	uint8_t *ip = p->data + ETH_HLEN_, h2[60];
	unsigned hl = (ip[0] & 15u) * 4, dlen = rd16(ip + 2) - hl;
	unsigned hl2 = frag4_hdr(ip, hl, h2);
	unsigned first = mtu > hl ? (mtu - hl) & ~7u : 0, rest = mtu > hl2 ? (mtu - hl2) & ~7u : 0;
	if (unlikely(!first || !rest)) { /* an MTU below 68 (RFC 791's minimum) */
		drop(w, v, RT_DROP_FRAG_NEEDED);
		return;
	}
	unsigned n = 1 + (dlen - first + rest - 1) / rest;
	struct rt_held held[RT_FRAG_MAX];
	if (unlikely(n > RT_FRAG_MAX)) {
		drop(w, v, RT_DROP_NO_BUF);
		return;
	}
	for (unsigned k = 1; k < n; k++) {
		held[k] = (struct rt_held){w->ops->alloc(w, p->port), 0, p->port};
		if (unlikely(!held[k].buf)) {
			while (--k > 0)
				w->ops->free_held(w, &held[k]);
			drop(w, v, RT_DROP_NO_BUF);
			return;
		}
	}
	uint16_t fo = rd16(ip + 6), hi = fo & 0xc000, off0 = fo & 0x1fff;
	for (unsigned k = 1, off = first; k < n; k++) {
		unsigned len = dlen - off < rest ? dlen - off : rest;
		uint16_t mf = off + len == dlen ? fo & 0x2000 : 0x2000;
		uint8_t *d = w->ops->held_data(w, &held[k]), *fip = d + ETH_HLEN_;
		memcpy(d, p->data, ETH_HLEN_);
		memcpy(fip, h2, hl2);
		memcpy(fip + hl2, ip + hl + off, len);
		wr16(fip + 2, (uint16_t)(hl2 + len));
		wr16(fip + 6, (uint16_t)(hi | mf | ((off0 + off / 8) & 0x1fff)));
		ip4_csum_set(fip, hl2);
		held[k].len = (uint16_t)(ETH_HLEN_ + hl2 + len);
		off += len;
	}
	wr16(ip + 2, (uint16_t)(hl + first));
	wr16(ip + 6, (uint16_t)(hi | 0x2000 | off0));
	ip4_csum_set(ip, hl);
	p->len = (uint16_t)(ETH_HLEN_ + hl + first);
	w->st.frag_ok++;
	w->st.fragments += n;
	neigh_out(w, p, v, i, AF_INET, tgt, port, 1, NULL); /* the datagram counts by its first */
	if (v->action == RT_ACT_DROP) { /* the first could not go: neither do the others */
		for (unsigned k = 1; k < n; k++)
			w->ops->free_held(w, &held[k]);
		return;
	}
	for (unsigned k = 1; k < n; k++) {
		struct rt_pkt fp = {
		    .data = w->ops->held_data(w, &held[k]), .len = held[k].len, .port = p->port};
		struct rt_verdict fv = {.action = RT_ACT_DROP};
		neigh_out(w, &fp, &fv, i, AF_INET, tgt, port, 0, &held[k]);
	}
}

/* 1 if a (network order) is the broadcast address of one of port's IPv4 subnets (/30 or
 * wider: a /31 or /32 has none). */
static int is_dbcast_v4(const struct rt_port *p, uint32_t a)
{
	for (unsigned i = 0; i < p->naddrs; i++) {
		const struct rt_addr *ad = &p->addrs[i];
		if (ad->family != AF_INET || ad->plen > 30)
			continue;
		uint32_t m = ad->plen ? htonl(~0u << (32 - ad->plen)) : 0, x;
		memcpy(&x, ad->addr, 4);
		if ((a | m) == 0xffffffffu && ((a ^ x) & m) == 0)
			return 1;
	}
	return 0;
}

static void route4(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v, unsigned i,
                   uint32_t nhid, unsigned *ngen)
{
	uint8_t *ip = p->data + ETH_HLEN_;
	if (nhid != RT_FIB_MISS && w->rt->nh[nhid].kind == RT_NH_CONNECTED) {
		uint32_t dst;
		memcpy(&dst, ip + 16, 4);
		if (unlikely(is_dbcast_v4(&w->rt->port[w->rt->nh[nhid].port], dst))) {
			punt(w, p, v); /* our subnet's broadcast: like 255.255.255.255 */
			return;
		}
	}
	const struct rt_nh *nh = route_pre(w, p, v, i, nhid, ngen, 0);
	if (!nh)
		return;
	unsigned mtu = w->rt->port[nh->port].mtu;
	if (unlikely(rd16(ip + 2) > mtu && (ip[6] & 0x40))) { /* DF: RFC 1191 */
		icmp_error_or_drop(w, p, v, i, ngen, 0, ICMP4_UNREACH, ICMP4_FRAGNEEDED,
		                   mtu > 0xffff ? 0xffff : mtu, RT_DROP_FRAG_NEEDED);
		return;
	}
	ttl4_add(ip, -1);
	uint8_t tgt[16] = {0};
	if (nh->kind == RT_NH_GW)
		memcpy(tgt, nh->gw, 4);
	else
		memcpy(tgt, ip + 16, 4);
	if (unlikely(rd16(ip + 2) > mtu)) {
		frag4(w, p, v, i, tgt, nh->port, mtu);
		return;
	}
	neigh_out(w, p, v, i, AF_INET, tgt, nh->port, 1, NULL);
}

static void route6(struct rt_worker *w, struct rt_pkt *p, struct rt_verdict *v, unsigned i,
                   uint32_t nhid, unsigned *ngen)
{
	uint8_t *ip = p->data + ETH_HLEN_;
	const struct rt_nh *nh = route_pre(w, p, v, i, nhid, ngen, 1);
	if (!nh)
		return;
	static const uint8_t unspec[16];
	if (unlikely(!memcmp(ip + 8, unspec, 16))) { /* RFC 4291 2.5.2: never forwarded */
		drop(w, v, RT_DROP_MARTIAN);
		return;
	}
	/* RFC 4291 2.5.6: a link-local source never leaves its link (RFC 4443 3.1, code 2) */
	if (unlikely(ip[8] == 0xfe && (ip[9] & 0xc0) == 0x80 && nh->port != p->port)) {
		icmp_error_or_drop(w, p, v, i, ngen, 1, ICMP6_UNREACH, 2, 0, RT_DROP_MARTIAN);
		return;
	}
	unsigned mtu = w->rt->port[nh->port].mtu;
	if (unlikely(40u + rd16(ip + 4) > mtu)) { /* RFC 8200 5, RFC 4443 3.2: no fragmenting */
		icmp_error_or_drop(w, p, v, i, ngen, 1, ICMP6_TOOBIG, 0, mtu, RT_DROP_TOO_BIG);
		return;
	}
	ip[7]--;
	const uint8_t *tgt = nh->kind == RT_NH_GW ? nh->gw : ip + 24;
	neigh_out(w, p, v, i, AF_INET6, tgt, nh->port, 1, NULL);
}

void rt_burst(struct rt_worker *w, struct rt_pkt *p, unsigned n, struct rt_verdict *v)
{
	struct rt *rt = w->rt;
	unsigned n4 = 0, n6 = 0, ngen = 0;

	if (unlikely(n > RT_BURST)) /* a caller bug: the scratch arrays hold RT_BURST */
		n = RT_BURST;

	for (unsigned i = 0; i < n; i++) {
		w->st.rx_packets++;
		w->st.rx_bytes += p[i].len;
		v[i] = (struct rt_verdict){.action = RT_ACT_DROP, .len = p[i].len};
		if (p[i].from_host) { /* inject: the host stack speaks for this port's link */
			if (p[i].len < ETH_HLEN_) {
				drop(w, &v[i], RT_DROP_BAD_L2);
				continue;
			}
			memcpy(p[i].data + 6, rt->port[p[i].port].mac, 6);
			v[i].action = RT_ACT_TX;
			v[i].port = p[i].port;
			w->st.injected++;
			continue;
		}
		switch (classify(w, &p[i], &v[i])) {
		case C_V4:
			w->k4[n4] = rd32(p[i].data + ETH_HLEN_ + 16);
			w->i4[n4++] = (uint16_t)i;
			break;
		case C_GEN:
			w->gen[ngen++] = (uint16_t)i;
			break;
		case C_V6:
			memcpy(w->k6[n6], p[i].data + ETH_HLEN_ + 24, 16);
			w->i6[n6++] = (uint16_t)i;
			break;
		default:
			break;
		}
	}
	if (n4)
		rt_fib4_lookup_bulk(rt->fib4, w->k4, w->nh4, n4);
	if (n6)
		rt_fib6_lookup_bulk(rt->fib6, (const uint8_t(*)[16])w->k6, w->nh6, n6);
	for (unsigned j = 0; j < n4; j++)
		route4(w, &p[w->i4[j]], &v[w->i4[j]], w->i4[j], w->nh4[j], &ngen);
	for (unsigned j = 0; j < n6; j++)
		route6(w, &p[w->i6[j]], &v[w->i6[j]], w->i6[j], w->nh6[j], &ngen);
	for (unsigned j = 0; j < ngen; j++)
		route_generated(w, &p[w->gen[j]], &v[w->gen[j]], w->gen[j], NULL);
}
