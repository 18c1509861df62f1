build-m/src/cli/export.o: src/cli/export.c src/cli/cli.h src/lib/config.h \
 src/lib/buf.h src/store/store.h
src/cli/cli.h:
src/lib/config.h:
src/lib/buf.h:
src/store/store.h:
