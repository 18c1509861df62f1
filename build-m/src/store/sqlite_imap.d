build-m/src/store/sqlite_imap.o: src/store/sqlite_imap.c src/lib/clock.h \
 src/store/sqlite_internal.h src/lib/alloc.h src/lib/buf.h src/lib/log.h \
 src/store/store.h
src/lib/clock.h:
src/store/sqlite_internal.h:
src/lib/alloc.h:
src/lib/buf.h:
src/lib/log.h:
src/store/store.h:
