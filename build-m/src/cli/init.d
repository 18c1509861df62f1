build-m/src/cli/init.o: src/cli/init.c src/cli/cli.h src/lib/config.h \
 src/lib/buf.h src/store/store.h src/net/tls.h
src/cli/cli.h:
src/lib/config.h:
src/lib/buf.h:
src/store/store.h:
src/net/tls.h:
