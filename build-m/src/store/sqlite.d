build-m/src/store/sqlite.o: src/store/sqlite.c src/lib/alloc.h \
 src/lib/clock.h src/lib/log.h src/store/sqlite_internal.h src/lib/buf.h \
 src/store/store.h
src/lib/alloc.h:
src/lib/clock.h:
src/lib/log.h:
src/store/sqlite_internal.h:
src/lib/buf.h:
src/store/store.h:
