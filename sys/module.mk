# sys/: the port layer (netmap rings over AF_XDP, AF_PACKET, TAP, shared-memory pipes).
SYS_SRCS := sys/pool.c sys/port.c sys/xdp.c sys/packet.c sys/tap.c sys/pipe.c
SYS_LIBS := -lxdp -lbpf -lelf -lz -lpthread -lrt

lib/libnmsys.a: $(call objs,$(SYS_SRCS))
lib/libnmsys-san.a: $(call sanobjs,$(SYS_SRCS))

$(eval $(call unit_test,sys_test,sys/tests/test_sys.c,lib/libnmsys,$(SYS_LIBS)))

bin/tests/host_ping: build/obj/sys/tests/host_ping.o build/obj/tools/pktgen_frame.o lib/libnmsys.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(SYS_LIBS)
BINS += bin/tests/host_ping

bin/tests/xdp_own: build/obj/sys/tests/xdp_own.o lib/libnmsys.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(SYS_LIBS)
BINS += bin/tests/xdp_own
INTEG_TESTS += tests/sys/ports.sh
