build-m/src/net/deflate.o: src/net/deflate.c src/net/deflate.h \
 src/lib/alloc.h
src/net/deflate.h:
src/lib/alloc.h:
