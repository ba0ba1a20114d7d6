/*
 * pktgen_frame.h — the frames pkt-gen sends, as a pure function of a sequence number.
 *
 * Sender and receiver build frame(seq) with the same parameters, so the receiver can
 * check every byte of what arrived, not only count it. A frame is Ethernet + IPv4 + UDP;
 * the payload starts with the magic "NMPG" and the 64-bit sequence number, then a
 * pattern derived from seq. Source and destination addresses and ports walk their
 * ranges with seq (or the destination comes from a list). Checksums are valid.
 */
#ifndef PKTGEN_FRAME_H
#define PKTGEN_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define PG_MAGIC       0x4e4d5047u /* "NMPG" */
#define PG_HDR_LEN     42          /* eth 14 + ip 20 + udp 8 */
#define PG_MIN_LEN     60
#define PG_PAYLOAD_OFS PG_HDR_LEN

struct pg_range {
	uint32_t ip_lo, ip_hi; /* host order */
	uint16_t port_lo, port_hi;
};

struct pg_frame_cfg {
	uint8_t src_mac[6], dst_mac[6];
	struct pg_range src, dst;
	uint32_t *dst_list; /* host order; overrides dst.ip when not NULL */
	uint32_t dst_count;
	uint16_t len;    /* frame length without FCS, >= 60 */
	int no_udp_csum; /* leave the UDP checksum 0 (allowed in IPv4) */
};

/* Writes frame(seq) into buf (at least cfg->len bytes). */
void pg_frame_build(const struct pg_frame_cfg *c, uint64_t seq, uint8_t *buf);
/* Sequence number carried by a frame, or -1 if it is not one of ours. */
int64_t pg_frame_seq(const uint8_t *buf, uint32_t len);
/* Parses "IP[:PORT][-IP[:PORT]]"; 0 or -1. */
int pg_parse_range(const char *s, struct pg_range *r);
/* Parses "aa:bb:cc:dd:ee:ff"; 0 or -1. */
int pg_parse_mac(const char *s, uint8_t mac[6]);
/* One's-complement sum helpers. */
uint16_t pg_csum_fold(uint32_t sum);
uint32_t pg_csum_add(uint32_t sum, const void *data, size_t len);

#endif
