build-m/tests/unit/mailauth/test_dkim.o: tests/unit/mailauth/test_dkim.c \
 src/lib/alloc.h src/mailauth/dkim.h src/lib/buf.h \
 src/mailauth/dkim_internal.h tests/unit/test.h
src/lib/alloc.h:
src/mailauth/dkim.h:
src/lib/buf.h:
src/mailauth/dkim_internal.h:
tests/unit/test.h:
