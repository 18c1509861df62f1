build-m/src/lib/spool.o: src/lib/spool.c src/lib/spool.h src/lib/buf.h \
 src/lib/alloc.h
src/lib/spool.h:
src/lib/buf.h:
src/lib/alloc.h:
