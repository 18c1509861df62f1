build-m/tests/unit/lib/test_log.o: tests/unit/lib/test_log.c \
 src/lib/log.h tests/unit/test.h
src/lib/log.h:
tests/unit/test.h:
