build-m/src/imap/seqset.o: src/imap/seqset.c src/imap/parse.h \
 src/lib/buf.h src/lib/alloc.h
src/imap/parse.h:
src/lib/buf.h:
src/lib/alloc.h:
