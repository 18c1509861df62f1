build-m/tests/unit/imap/test_seqset.o: tests/unit/imap/test_seqset.c \
 src/imap/parse.h src/lib/buf.h tests/unit/test.h
src/imap/parse.h:
src/lib/buf.h:
tests/unit/test.h:
