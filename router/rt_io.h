/*
 * rt_io.h — nmrouter's port I/O: opens the ports (sys/nmport.h), runs one worker thread per
 * group of RX rings, and turns verdicts into slot moves. See rt_io.c.
 */
#ifndef RT_IO_H
#define RT_IO_H

#include "router/rt.h"

struct rt_io;

struct rt_port_cfg {
	const char *name;
	const char *spec; /* netmap:IF, netmap:IF*, netmap:IF-N, netmap:NAME{N, ... */
	int host;         /* give the port a host ring (IF* spec, or open netmap:IF^ beside it) */
	int has_mac;      /* mac given in the config (required to be unique on pipes) */
	uint8_t mac[6];
	uint32_t ring_size; /* 0 = default */
	uint32_t mtu;       /* IP MTU; 0 = the interface's (SIOCGIFMTU at open) */
};

/* Opens every port and adds it to rt (rt_port_add). NULL + errno; err says which and why. */
struct rt_io *rt_io_open(struct rt *rt, const struct rt_port_cfg *ports, unsigned n, char *err,
                         size_t errlen);
/* Starts nworkers worker threads (0: one per RX ring). 0 or -errno. */
int rt_io_start(struct rt_io *io, unsigned nworkers, char *err, size_t errlen);
/* Stops the workers (joins them), then closes the ports. NULL is safe. */
void rt_io_close(struct rt_io *io);
/* Puts each host-enabled port's addresses and MTU on its TAP device and brings it up. */
int rt_io_host_setup(struct rt_io *io, char *err, size_t errlen);
/* Name of the host-side (TAP) device of port i, or NULL. */
const char *rt_io_host_ifname(struct rt_io *io, unsigned port);
unsigned rt_io_nworkers(const struct rt_io *io);

#endif /* RT_IO_H */
