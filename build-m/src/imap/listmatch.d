build-m/src/imap/listmatch.o: src/imap/listmatch.c src/imap/listmatch.h \
 src/lib/alloc.h
src/imap/listmatch.h:
src/lib/alloc.h:
