build-m/src/store/dmarc_jobs.o: src/store/dmarc_jobs.c \
 src/store/dmarc_jobs.h src/lib/config.h src/lib/buf.h \
 src/mailauth/dmarc_report.h src/store/committer.h src/lib/alloc.h \
 src/lib/clock.h src/lib/log.h src/lib/spool.h src/store/store.h
src/store/dmarc_jobs.h:
src/lib/config.h:
src/lib/buf.h:
src/mailauth/dmarc_report.h:
src/store/committer.h:
src/lib/alloc.h:
src/lib/clock.h:
src/lib/log.h:
src/lib/spool.h:
src/store/store.h:
