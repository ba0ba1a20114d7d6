# tools/: pkt-gen, the traffic generator and receiver.
PKTGEN_SRCS := tools/pkt-gen.c tools/pktgen_frame.c tools/xdp_live.c
BINS += bin/pkt-gen

bin/pkt-gen: $(call objs,$(PKTGEN_SRCS)) lib/libnmsys.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(SYS_LIBS)
