build-m/tests/unit/mailauth/test_dkim_keys.o: \
 tests/unit/mailauth/test_dkim_keys.c src/lib/alloc.h src/mailauth/dkim.h \
 src/lib/buf.h src/mailauth/dkim_keys.h tests/unit/test.h
src/lib/alloc.h:
src/mailauth/dkim.h:
src/lib/buf.h:
src/mailauth/dkim_keys.h:
tests/unit/test.h:
