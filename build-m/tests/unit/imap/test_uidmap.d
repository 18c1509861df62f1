build-m/tests/unit/imap/test_uidmap.o: tests/unit/imap/test_uidmap.c \
 src/imap/uidmap.h tests/unit/test.h
src/imap/uidmap.h:
tests/unit/test.h:
