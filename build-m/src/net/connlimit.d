build-m/src/net/connlimit.o: src/net/connlimit.c src/net/connlimit.h \
 src/lib/alloc.h
src/net/connlimit.h:
src/lib/alloc.h:
