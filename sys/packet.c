/*
 * packet.c — the AF_PACKET backend (TPACKET_V3), the fallback where AF_XDP does not work.
 *
 * One socket per port, bound to the interface, with a TPACKET_V3 RX ring of blocks and a
 * TX ring of fixed frames in one mapping. The kernel copies into its ring; rxsync copies
 * from there into the pool buffers the RX slots name, and txsync copies slot data into
 * TX frames and kicks the kernel with one sendto() per burst. So the application sees the
 * same rings and the same pool as with AF_XDP; only the two copies differ, counted in
 * rx_copies / tx_copies. Our own transmissions are not looped back (PACKET_IGNORE_OUTGOING).
 *
 * Note: AF_PACKET only taps the interface: the kernel stack still sees every frame.
 * Leave the interface without addresses when it is a data-plane port.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
#include "nm_internal.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define RX_BLOCK_SIZE (1u << 17)
#define RX_BLOCKS     64
#define TX_FRAME_SIZE 2048u
#define TX_BLOCK_SIZE (1u << 16)

struct pkt_rp {
	int fd;
	uint8_t *map;
	size_t maplen;
	uint8_t *rx_base, *tx_base;
	uint32_t rx_blocks, cur_block, pkts_left;
	uint8_t *cur_pkt;
	uint32_t tx_frames, tx_cur;
};

static inline uint32_t load_acq(volatile uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_rel(volatile uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static int pkt_rxsync(struct nmport *p, struct nm_ringpair *rp)
{
	struct pkt_rp *k = rp->priv;
	struct netmap_ring *r = rp->rx;
	uint32_t space = nm_rx_room(r);
	uint32_t t = r->tail, got = 0, maxlen = nm_pool_buf_size(p->pool);
	uint64_t bytes = 0;

	rp->rx_hwcur = r->head; /* released slots keep their (free) buffers */
	while (space) {
		struct tpacket_block_desc *bd =
		    (void *)(k->rx_base + (size_t)k->cur_block * RX_BLOCK_SIZE);
		if (!k->cur_pkt) {
			if (!(load_acq(&bd->hdr.bh1.block_status) & TP_STATUS_USER))
				break;
			k->pkts_left = bd->hdr.bh1.num_pkts;
			k->cur_pkt = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
		}
		while (k->pkts_left && space) {
			struct tpacket3_hdr *h = (void *)k->cur_pkt;
			struct netmap_slot *s = &r->slot[t];
			const uint8_t *src = k->cur_pkt + h->tp_mac;
			uint8_t *dst = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
			uint32_t snap = h->tp_snaplen, len;
			if ((h->tp_status & TP_STATUS_VLAN_VALID) && snap >= 12 && maxlen >= 16) {
				/* The kernel took the 802.1Q/802.1ad tag out of the frame (into
				 * tp_vlan_tci): put it back after the MAC addresses. */
				uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID)
				                    ? h->hv1.tp_vlan_tpid
				                    : ETH_P_8021Q;
				uint16_t tci = (uint16_t)h->hv1.tp_vlan_tci;
				len = snap + 4 < maxlen ? snap + 4 : maxlen;
				memcpy(dst, src, 12);
				dst[12] = (uint8_t)(tpid >> 8);
				dst[13] = (uint8_t)tpid;
				dst[14] = (uint8_t)(tci >> 8);
				dst[15] = (uint8_t)tci;
				memcpy(dst + 16, src + 12, len - 16);
			} else {
				len = snap < maxlen ? snap : maxlen;
				memcpy(dst, src, len);
			}
			s->len = (uint16_t)len;
			s->flags = 0;
			bytes += len;
			t = nm_ring_next(r, t);
			got++;
			space--;
			k->pkts_left--;
			k->cur_pkt += h->tp_next_offset;
		}
		if (k->pkts_left == 0) {
			store_rel(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL);
			k->cur_block = (k->cur_block + 1) % k->rx_blocks;
			k->cur_pkt = NULL;
		}
	}
	nm_rx_done(rp, t, got, bytes, got);
	return 0;
}

static int pkt_txsync(struct nmport *p, struct nm_ringpair *rp)
{
	struct pkt_rp *k = rp->priv;
	struct netmap_ring *r = rp->tx;
	uint32_t i = rp->tx_hwcur, head = r->head, sent = 0;
	const uint32_t data_off = TPACKET_ALIGN(sizeof(struct tpacket3_hdr));
	uint64_t bytes = 0;
	(void)p;

	while (i != head) {
		struct tpacket3_hdr *f = (void *)(k->tx_base + (size_t)k->tx_cur * TX_FRAME_SIZE);
		uint32_t st = load_acq(&f->tp_status);
		if (st == TP_STATUS_WRONG_FORMAT) {
			rp->st.tx_errors++;
			store_rel(&f->tp_status, TP_STATUS_AVAILABLE);
		} else if (st != TP_STATUS_AVAILABLE) {
			break; /* the kernel has not sent this frame yet: ring full */
		}
		struct netmap_slot *s = &r->slot[i];
		uint32_t len = s->len;
		if (len > TX_FRAME_SIZE - data_off) {
			rp->st.tx_errors++;
		} else {
			memcpy((uint8_t *)f + data_off, NETMAP_BUF(r, s->buf_idx), len);
			f->tp_len = f->tp_snaplen = len;
			f->tp_next_offset = 0;
			store_rel(&f->tp_status, TP_STATUS_SEND_REQUEST);
			k->tx_cur = (k->tx_cur + 1) % k->tx_frames;
			sent++;
			bytes += len;
		}
		s->flags &= (uint16_t)~NS_BUF_CHANGED;
		i = nm_ring_next(r, i);
	}
	if (sent) {
		rp->st.tx_kicks++;
		if (sendto(k->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN &&
		    errno != ENOBUFS)
			rp->st.tx_errors++;
	}
	nm_tx_done(rp, i, sent, bytes, sent); /* copied slots are free at once */
	return 0;
}

static void pkt_close(struct nmport *p, struct nm_ringpair *rp)
{
	struct pkt_rp *k = rp->priv;
	if (k) {
		if (k->map && k->map != MAP_FAILED)
			munmap(k->map, k->maplen);
		if (k->fd >= 0)
			close(k->fd);
		free(k);
	}
	nm_rp_release(p, rp);
}

static const struct nm_ringpair_ops pkt_ops = {
    .rxsync = pkt_rxsync,
    .txsync = pkt_txsync,
    .audit = nm_rp_audit_all,
    .close = pkt_close,
};

int nm_packet_open(struct nmport *p, struct nm_ringpair *rp, int qid, const struct nmport_opts *o)
{
	uint32_t n = o->ring_size;
	int rc, v;
	struct pkt_rp *k = calloc(1, sizeof(*k));

	if (k)
		k->fd = -1;
	rc = nm_rp_init(p, rp, &pkt_ops, NM_BE_PACKET, qid, (uint16_t)qid, n, k);
	if (rc)
		goto fail;
	if (qid > 0) {
		/* AF_PACKET sees the whole interface; one socket serves queue 0. */
		nm_seterr("%s: AF_PACKET has no per-queue sockets; open %s-0 or the whole port",
		          p->spec, p->ifname);
		rc = -EOPNOTSUPP;
		goto fail;
	}
	k->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (k->fd < 0) {
		rc = -errno;
		nm_seterr("%s: AF_PACKET socket: %s", p->spec, strerror(errno));
		goto fail;
	}
	v = TPACKET_V3;
	if (setsockopt(k->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0)
		goto sockerr;
	v = 1;
	setsockopt(k->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &v, sizeof(v));
	setsockopt(k->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &v, sizeof(v));

	struct tpacket_req3 rx = {
	    .tp_block_size = RX_BLOCK_SIZE,
	    .tp_block_nr = RX_BLOCKS,
	    .tp_frame_size = TX_FRAME_SIZE,
	    .tp_frame_nr = RX_BLOCK_SIZE / TX_FRAME_SIZE * RX_BLOCKS,
	    .tp_retire_blk_tov = 1, /* ms: a partly filled block reaches us within 1 ms */
	};
	if (setsockopt(k->fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(rx)) < 0)
		goto sockerr;
	uint32_t tx_blocks = (n * TX_FRAME_SIZE + TX_BLOCK_SIZE - 1) / TX_BLOCK_SIZE;
	struct tpacket_req3 tx = {
	    .tp_block_size = TX_BLOCK_SIZE,
	    .tp_block_nr = tx_blocks,
	    .tp_frame_size = TX_FRAME_SIZE,
	    .tp_frame_nr = TX_BLOCK_SIZE / TX_FRAME_SIZE * tx_blocks,
	};
	if (setsockopt(k->fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(tx)) < 0)
		goto sockerr;
	k->rx_blocks = RX_BLOCKS;
	k->tx_frames = tx.tp_frame_nr;
	k->maplen = (size_t)RX_BLOCK_SIZE * RX_BLOCKS + (size_t)TX_BLOCK_SIZE * tx_blocks;
	k->map = mmap(NULL, k->maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, k->fd, 0);
	if (k->map == MAP_FAILED)
		goto sockerr;
	k->rx_base = k->map;
	k->tx_base = k->map + (size_t)RX_BLOCK_SIZE * RX_BLOCKS;

	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_ALL),
	    .sll_ifindex = p->ifindex,
	};
	if (bind(k->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto sockerr;
	rc = nm_rp_fill(p, rp);
	if (rc)
		goto fail;
	rp->fd = k->fd;
	snprintf(p->mode, sizeof(p->mode), "AF_PACKET TPACKET_V3 copy");
	return 0;
sockerr:
	rc = -errno;
	nm_seterr("%s: AF_PACKET ring on %s: %s", p->spec, p->ifname, strerror(errno));
fail:
	pkt_close(p, rp);
	return rc;
}
