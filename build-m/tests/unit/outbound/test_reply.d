build-m/tests/unit/outbound/test_reply.o: \
 tests/unit/outbound/test_reply.c src/outbound/reply.h src/lib/buf.h \
 tests/unit/test.h
src/outbound/reply.h:
src/lib/buf.h:
tests/unit/test.h:
