build-m/tests/unit/lib/test_loopwatch.o: tests/unit/lib/test_loopwatch.c \
 src/lib/loopwatch.h tests/unit/test.h
src/lib/loopwatch.h:
tests/unit/test.h:
