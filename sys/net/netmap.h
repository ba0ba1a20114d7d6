/*
 * netmap.h — the ring and slot layout of the netmap API, version 14.
 *
 * A port has rings; a ring is a circular array of slots; a slot names a packet buffer by
 * index (buf_idx) into one shared pool and says how many bytes of it are used (len).
 * Moving a packet between two rings of ports that share the pool moves only the index.
 *
 * Ownership follows netmap exactly:
 *   - userspace owns the slots in [head, tail); the backend owns [tail, head).
 *   - RX: the slots in [head, tail) hold received packets. Advancing head returns them.
 *   - TX: the slots in [head, tail) are free for the user to fill. Advancing head past
 *     filled slots hands them to the backend, which sends them at the next txsync and
 *     moves tail on as they complete.
 *   - cur may run ahead of head to ask for a wakeup only when more slots are ready.
 * A slot whose buf_idx the user changed must carry NS_BUF_CHANGED so the backend
 * re-reads it (for AF_XDP: posts that buffer, not the old one, to the fill ring).
 *
 * The layouts below match netmap's own, field for field, so a native backend could map
 * the rings of the netmap kernel module unchanged. No such module exists on our machines;
 * the backends in sys/ build the same rings in ordinary memory.
 */
#ifndef NM_NET_NETMAP_H
#define NM_NET_NETMAP_H

#include <stdint.h>
#include <sys/time.h>

#define NETMAP_API 14

#ifndef NM_CACHE_ALIGN
#define NM_CACHE_ALIGN 128
#endif

/* One slot: 16 bytes. */
struct netmap_slot {
	uint32_t buf_idx; /* index of the buffer in the pool */
	uint16_t len;     /* bytes of packet in the buffer */
	uint16_t flags;   /* NS_* below */
	uint64_t ptr;     /* user pointer, or offset word with NETMAP_REQ_OPT_OFFSETS */
};

/* Slot flags. */
#define NS_BUF_CHANGED 0x0001 /* buf_idx was changed by the user */
#define NS_REPORT      0x0002 /* ask for a completion report for this slot */
#define NS_FORWARD     0x0004 /* pass to the other side (host <-> hw) in transparent mode */
#define NS_NO_LEARN    0x0008 /* VALE: do not learn the source address */
#define NS_INDIRECT    0x0010 /* ptr holds the data address */
#define NS_MOREFRAG    0x0020 /* the packet continues in the next slot */
#define NS_TXMON       0x0040 /* monitor: the slot was seen on a TX ring */

#define NS_RFRAGS_SHIFT 8
#define NS_RFRAGS(slot) (((slot)->flags >> 8) & 0xff)

/*
 * A ring. buf_ofs is the byte offset from the ring to buffer 0, so that
 * NETMAP_BUF(ring, i) == (char *)ring + buf_ofs + i * nr_buf_size. Our backends fold the
 * per-buffer headroom (AF_XDP puts data 256 bytes into a frame) into buf_ofs, so the
 * macro points straight at packet data.
 */
struct netmap_ring {
	const int64_t buf_ofs;
	const uint32_t num_slots;   /* slots in the ring */
	const uint32_t nr_buf_size; /* stride between buffers */
	const uint16_t ringid;
	const uint16_t dir; /* NR_TX or NR_RX */

	uint32_t head; /* first slot the user owns */
	uint32_t cur;  /* wakeup point */
	uint32_t tail; /* first slot the backend owns (read-only for the user) */

	uint32_t flags; /* NR_* ring flags */

	struct timeval ts; /* time of the last rxsync */

	uint64_t offset_mask; /* with NETMAP_REQ_OPT_OFFSETS; 0 here */
	uint64_t buf_align;

	/* Keeps the slots off the cache line of the indices above. */
	uint8_t __attribute__((__aligned__(NM_CACHE_ALIGN))) sem[128];

	struct netmap_slot slot[0];
};

/* Ring flags. */
#define NR_TIMESTAMP 0x0002 /* set ts on every rxsync */
#define NR_FORWARD   0x0004 /* honour NS_FORWARD */

enum { NR_RX = 0, NR_TX = 1 };

/*
 * The per-port descriptor netmap keeps in shared memory. Kept for layout compatibility;
 * our port layer hands out rings through struct nmport (nmport.h) instead.
 */
struct netmap_if {
	char ni_name[16];
	const uint32_t ni_version;
	const uint32_t ni_flags;
	const uint32_t ni_tx_rings;
	const uint32_t ni_rx_rings;
	uint32_t ni_bufs_head;
	const uint32_t ni_host_tx_rings;
	const uint32_t ni_host_rx_rings;
	uint32_t ni_spare1[3];
	const int64_t ring_ofs[0];
};

#endif /* NM_NET_NETMAP_H */
