build-m/tests/unit/imap/test_parse.o: tests/unit/imap/test_parse.c \
 src/imap/parse.h src/lib/buf.h tests/unit/test.h tests/unit/imap/util.h
src/imap/parse.h:
src/lib/buf.h:
tests/unit/test.h:
tests/unit/imap/util.h:
