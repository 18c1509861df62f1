build-m/src/cli/main.o: src/cli/main.c src/auth/password.h src/cli/cli.h \
 src/lib/config.h src/lib/buf.h src/store/store.h src/lib/alloc.h
src/auth/password.h:
src/cli/cli.h:
src/lib/config.h:
src/lib/buf.h:
src/store/store.h:
src/lib/alloc.h:
