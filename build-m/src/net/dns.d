build-m/src/net/dns.o: src/net/dns.c src/net/dns.h src/lib/buf.h \
 src/lib/alloc.h src/lib/log.h
src/net/dns.h:
src/lib/buf.h:
src/lib/alloc.h:
src/lib/log.h:
