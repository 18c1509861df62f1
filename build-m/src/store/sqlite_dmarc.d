build-m/src/store/sqlite_dmarc.o: src/store/sqlite_dmarc.c \
 src/mailauth/dmarc_report.h src/lib/buf.h src/store/sqlite_internal.h \
 src/lib/alloc.h src/lib/log.h src/store/store.h
src/mailauth/dmarc_report.h:
src/lib/buf.h:
src/store/sqlite_internal.h:
src/lib/alloc.h:
src/lib/log.h:
src/store/store.h:
