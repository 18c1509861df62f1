build-m/src/outbound/reply.o: src/outbound/reply.c src/outbound/reply.h \
 src/lib/buf.h
src/outbound/reply.h:
src/lib/buf.h:
