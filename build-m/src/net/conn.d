build-m/src/net/conn.o: src/net/conn.c src/net/conn.h \
 src/lib/linereader.h src/lib/alloc.h
src/net/conn.h:
src/lib/linereader.h:
src/lib/alloc.h:
