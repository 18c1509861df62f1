build-m/tests/unit/lib/test_linereader.o: \
 tests/unit/lib/test_linereader.c src/lib/linereader.h tests/unit/test.h
src/lib/linereader.h:
tests/unit/test.h:
