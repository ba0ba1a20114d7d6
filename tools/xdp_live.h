/*
 * xdp_live.h — XDP live-frames transmitter (see xdp_live.c).
 */
#ifndef XDP_LIVE_H
#define XDP_LIVE_H

#include <stdint.h>
#include "tools/pktgen_frame.h"

struct xdp_live {
	int ifindex, prog_fd, map_fd;
	uint32_t mask, len;
	uint8_t frame[2048];
};

/* Prepares the program (and destination map) for frames built from c. 0 or -errno. */
int xdp_live_open(struct xdp_live *lv, int ifindex, const struct pg_frame_cfg *c);
/* Transmits count frames out of the interface; 0 or -errno. */
int xdp_live_send(struct xdp_live *lv, uint32_t count);
void xdp_live_close(struct xdp_live *lv);

#endif
