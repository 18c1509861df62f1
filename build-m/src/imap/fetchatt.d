build-m/src/imap/fetchatt.o: src/imap/fetchatt.c src/imap/parse.h \
 src/lib/buf.h src/lib/alloc.h
src/imap/parse.h:
src/lib/buf.h:
src/lib/alloc.h:
