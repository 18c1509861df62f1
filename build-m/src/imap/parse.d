build-m/src/imap/parse.o: src/imap/parse.c src/imap/parse.h src/lib/buf.h \
 src/lib/alloc.h src/lib/utf8.h
src/imap/parse.h:
src/lib/buf.h:
src/lib/alloc.h:
src/lib/utf8.h:
