build-m/src/cli/report.o: src/cli/report.c src/cli/cli.h src/lib/config.h \
 src/lib/buf.h src/store/store.h src/lib/alloc.h src/lib/clock.h
src/cli/cli.h:
src/lib/config.h:
src/lib/buf.h:
src/store/store.h:
src/lib/alloc.h:
src/lib/clock.h:
