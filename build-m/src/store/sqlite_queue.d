build-m/src/store/sqlite_queue.o: src/store/sqlite_queue.c \
 src/store/sqlite_internal.h src/lib/alloc.h src/lib/buf.h src/lib/log.h \
 src/store/store.h
src/store/sqlite_internal.h:
src/lib/alloc.h:
src/lib/buf.h:
src/lib/log.h:
src/store/store.h:
