# router/ — nmrouter: the userspace IPv4/IPv6 router (see router/README.md).
#
# The engine (core, FIB adapter, burst processing) has no port dependency so the unit test
# runs it on synthetic frames; the binary adds the port I/O, config loader and main.

RT_ENGINE_SRCS := router/rt_core.c router/rt_engine.c router/rt_fib_lpm.c
RT_LDLIBS := -lurcu-qsbr -lpthread
RT_LIBS := lib/liblpm

$(eval $(call unit_test,test_rt_engine,tests/router/test_rt_engine.c $(RT_ENGINE_SRCS),$(RT_LIBS),$(RT_LDLIBS)))
# rt_io.c and the engine over netmap pipes (sys/), in one process: no root, no interfaces.
# ($$(SYS_LIBS): sys/module.mk is read after this file.)
$(eval $(call unit_test,test_rt_io,tests/router/test_rt_io.c router/rt_io.c $(RT_ENGINE_SRCS),$(RT_LIBS) lib/libnmsys,$(RT_LDLIBS) $$(SYS_LIBS)))

RT_BIN_SRCS := router/nmrouter.c router/rt_io.c $(RT_ENGINE_SRCS)
BINS += bin/nmrouter

bin/nmrouter: $(call objs,$(RT_BIN_SRCS)) lib/libnmapi.a lib/liblpm.a lib/libnmsys.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(RT_LDLIBS) $(API_LDLIBS) $(SYS_LIBS)

INTEG_TESTS += tests/router/config.sh tests/router/test_forwarding.py tests/router/test_icmp_drops.py \
               tests/router/test_fulltable.py tests/router/test_mtu.py
