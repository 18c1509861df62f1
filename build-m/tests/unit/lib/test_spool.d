build-m/tests/unit/lib/test_spool.o: tests/unit/lib/test_spool.c \
 src/lib/spool.h src/lib/buf.h tests/unit/test.h
src/lib/spool.h:
src/lib/buf.h:
tests/unit/test.h:
