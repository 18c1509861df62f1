build-m/src/imap/uidmap.o: src/imap/uidmap.c src/imap/uidmap.h \
 src/lib/alloc.h
src/imap/uidmap.h:
src/lib/alloc.h:
