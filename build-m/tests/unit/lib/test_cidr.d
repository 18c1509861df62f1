build-m/tests/unit/lib/test_cidr.o: tests/unit/lib/test_cidr.c \
 src/lib/cidr.h src/lib/buf.h tests/unit/test.h
src/lib/cidr.h:
src/lib/buf.h:
tests/unit/test.h:
