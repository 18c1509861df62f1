build-m/src/net/listen.o: src/net/listen.c src/net/listen.h src/lib/buf.h
src/net/listen.h:
src/lib/buf.h:
