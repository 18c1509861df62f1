build-m/tests/unit/imap/test_search.o: tests/unit/imap/test_search.c \
 src/imap/parse.h src/lib/buf.h tests/unit/test.h tests/unit/imap/util.h
src/imap/parse.h:
src/lib/buf.h:
tests/unit/test.h:
tests/unit/imap/util.h:
