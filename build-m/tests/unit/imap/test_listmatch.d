build-m/tests/unit/imap/test_listmatch.o: \
 tests/unit/imap/test_listmatch.c src/imap/listmatch.h tests/unit/test.h
src/imap/listmatch.h:
tests/unit/test.h:
