build-m/tests/unit/outbound/test_dsn.o: tests/unit/outbound/test_dsn.c \
 src/mime/mime.h src/lib/buf.h src/outbound/dsn.h tests/unit/test.h
src/mime/mime.h:
src/lib/buf.h:
src/outbound/dsn.h:
tests/unit/test.h:
