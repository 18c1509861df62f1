build-m/src/imap/search.o: src/imap/search.c src/imap/parse.h \
 src/lib/buf.h src/lib/alloc.h
src/imap/parse.h:
src/lib/buf.h:
src/lib/alloc.h:
