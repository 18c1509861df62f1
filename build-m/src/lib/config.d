build-m/src/lib/config.o: src/lib/config.c src/lib/config.h src/lib/buf.h \
 src/lib/alloc.h src/lib/cidr.h
src/lib/config.h:
src/lib/buf.h:
src/lib/alloc.h:
src/lib/cidr.h:
