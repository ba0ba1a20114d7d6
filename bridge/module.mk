# bridge/: nmbridge, the two-port zero-copy bridge.
BINS += bin/nmbridge

bin/nmbridge: build/obj/bridge/nmbridge.o lib/libnmsys.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(SYS_LIBS)
INTEG_TESTS += tests/bridge/test_bridge.py
