build-m/tests/unit/outbound/test_ehlo_rate.o: \
 tests/unit/outbound/test_ehlo_rate.c src/outbound/ehlo.h \
 src/outbound/ratelimit.h tests/unit/test.h
src/outbound/ehlo.h:
src/outbound/ratelimit.h:
tests/unit/test.h:
