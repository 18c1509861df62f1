build-m/src/net/tls.o: src/net/tls.c src/net/tls.h src/lib/buf.h
src/net/tls.h:
src/lib/buf.h:
