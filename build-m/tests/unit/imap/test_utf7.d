build-m/tests/unit/imap/test_utf7.o: tests/unit/imap/test_utf7.c \
 src/imap/parse.h src/lib/buf.h tests/unit/test.h
src/imap/parse.h:
src/lib/buf.h:
tests/unit/test.h:
