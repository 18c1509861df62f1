build-m/src/cli/queue.o: src/cli/queue.c src/cli/cli.h src/lib/config.h \
 src/lib/buf.h src/store/store.h src/lib/clock.h src/mime/mime.h
src/cli/cli.h:
src/lib/config.h:
src/lib/buf.h:
src/store/store.h:
src/lib/clock.h:
src/mime/mime.h:
