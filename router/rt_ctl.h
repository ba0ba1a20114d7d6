/*
 * rt_ctl.h — the one narrow interface between nmrouter's data plane and its control plane.
 *
 * api/ (the JSON API thread) and the config loader talk to the router only through these
 * calls, never through its internals. Every call here is made from the control thread
 * (one thread at a time); none of them blocks the data plane: route and neighbor changes
 * are built off to the side and published with one pointer store (RCU), and the old
 * pieces are freed after the workers have passed a quiescent point.
 *
 * Addresses are in network byte order; an IPv4 address uses the first 4 bytes of the
 * 16-byte arrays. Changes are all-or-nothing: on error nothing changed, the generation
 * did not move, and err holds one line naming the offending item and the reason.
 * Returns 0 or -errno (-EINVAL bad input, -ENOENT missing, -EEXIST present, -ENODEV
 * unknown device).
 */
#ifndef RT_CTL_H
#define RT_CTL_H

#ifndef IFNAMSIZ
#define IFNAMSIZ 16 /* as in <net/if.h>, which clashes with <linux/if.h> */
#endif
#include <stddef.h>
#include <stdint.h>

struct rt; /* a running router */

enum rt_proto {
	RT_PROTO_STATIC = 0, /* added by config or API */
	RT_PROTO_KERNEL = 1, /* connected route of a port address; read-only */
};

struct rt_route {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t plen;
	uint8_t has_gw;
	uint8_t proto; /* enum rt_proto */
	uint8_t dst[16];
	uint8_t gw[16];
	char dev[IFNAMSIZ]; /* egress port name; may be empty when has_gw (resolved by lookup) */
};

enum rt_nud {
	RT_NUD_PERMANENT = 0, /* static */
	RT_NUD_REACHABLE,
	RT_NUD_STALE,
	RT_NUD_INCOMPLETE, /* resolution in progress */
	RT_NUD_FAILED,
	/* added later (extend only at the end): RFC 4861 7.3 reachability confirmation */
	RT_NUD_DELAY, /* a STALE entry was used: still used, probed if not confirmed soon */
	RT_NUD_PROBE, /* unicast probes to the cached MAC running; still used */
};

struct rt_neigh {
	uint8_t family;
	uint8_t state; /* enum rt_nud */
	uint8_t dst[16];
	uint8_t lladdr[6];
	char dev[IFNAMSIZ];
};

/* Per-port view for `GET /v1/links` (ip -j -s link vocabulary). */
struct rt_link {
	char name[IFNAMSIZ];
	char spec[64];
	char mode[64];
	uint8_t mac[6];
	uint32_t mtu; /* IP MTU: the config's "mtu", else the interface's at start */
	int host;     /* has a host port */
	unsigned naddrs;
	struct {
		uint8_t family, plen;
		uint8_t addr[16];
	} addrs[8];
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, rx_dropped, tx_dropped;
};

/* Drop reasons; names in rt_drop_names[]. Every packet a worker drops counts in one. */
enum rt_drop {
	RT_DROP_BAD_L2 = 0,  /* runt frame, unknown ethertype the router does not handle */
	RT_DROP_BAD_VERSION, /* IP version field wrong */
	RT_DROP_BAD_IHL,     /* IHL < 5 */
	RT_DROP_BAD_CSUM,    /* IPv4 header checksum */
	RT_DROP_BAD_LEN,     /* total/payload length vs frame */
	RT_DROP_MARTIAN,     /* martian source or destination */
	RT_DROP_TTL,         /* TTL/hop limit expired (an ICMP error may have been sent) */
	RT_DROP_NO_ROUTE,
	RT_DROP_NO_NEIGH,  /* next hop resolution failed */
	RT_DROP_HOLD_FULL, /* hold queue of an unresolved next hop full */
	RT_DROP_TX_FULL,   /* egress TX ring full */
	RT_DROP_NO_HOST,   /* for us, but no host port to punt to */
	RT_DROP_ICMP_RATE, /* ICMP error suppressed by the rate limit (packet itself dropped) */
	RT_DROP_NO_BUF,    /* buffer pool empty */
	RT_DROP_OTHER,
	/* added later (extend only at the end): MTU (README "MTU") */
	RT_DROP_FRAG_NEEDED, /* IPv4 bigger than the egress MTU with DF set (an ICMP 3/4 may have
	                        been sent), or an MTU too small to fragment for */
	RT_DROP_TOO_BIG,     /* IPv6 bigger than the egress MTU (a Packet Too Big may have been
	                        sent); routers never fragment IPv6 */
	RT_DROP_MAX
};
extern const char *const rt_drop_names[RT_DROP_MAX];

struct rt_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t forwarded;
	uint64_t punted;   /* to the host port */
	uint64_t injected; /* from the host port out through the data plane */
	uint64_t icmp_sent;
	uint64_t arp_nd_sent;
	uint64_t local_replies; /* answered by the router itself (ARP/NS, ping without host port) */
	uint64_t drops[RT_DROP_MAX];
	/* added after the first version (extend only at the end): */
	uint64_t consumed;  /* control frames the router used itself (ARP/NA replies to it) */
	uint64_t frag_ok;   /* IPv4 datagrams fragmented (RFC 791) for a smaller egress MTU */
	uint64_t fragments; /* fragments those became (all of them, the first included) */
};

/* ---- routes ---- */
int rt_route_add(struct rt *rt, const struct rt_route *r, size_t n, char *err, size_t errlen);
int rt_route_del(struct rt *rt, const struct rt_route *r, size_t n, char *err, size_t errlen);
/*
 * Replaces every static route by r[0..n) in one publish. With dry_run nothing changes.
 * *adds / *dels (if not NULL) receive how many routes would be / were added and removed.
 */
int rt_route_replace(struct rt *rt, const struct rt_route *r, size_t n, int dry_run, size_t *adds,
                     size_t *dels, char *err, size_t errlen);
/* Calls cb for every route (static and connected); stops early if cb returns non-zero. */
int rt_route_walk(struct rt *rt, int (*cb)(const struct rt_route *r, void *arg), void *arg);

/* ---- neighbors ---- */
int rt_neigh_add(struct rt *rt, const struct rt_neigh *nb, char *err, size_t errlen);
int rt_neigh_del(struct rt *rt, const struct rt_neigh *nb, char *err, size_t errlen);
int rt_neigh_walk(struct rt *rt, int (*cb)(const struct rt_neigh *nb, void *arg), void *arg);
/* Entries in the neighbor table now (at most 16,384), and how many its GC has reclaimed. */
void rt_neigh_counts(struct rt *rt, uint64_t *entries, uint64_t *reclaimed);

/* ---- links, counters ---- */
int rt_link_walk(struct rt *rt, int (*cb)(const struct rt_link *l, void *arg), void *arg);
/* Fills per_worker[0..min(nworkers, max)) and *sum; returns the number of workers. */
int rt_stats_get(struct rt *rt, struct rt_stats *per_worker, unsigned max, struct rt_stats *sum);

/* Increases by one on every successful change. */
uint64_t rt_generation(struct rt *rt);

#endif /* RT_CTL_H */
