build-m/src/spam/rspamd.o: src/spam/rspamd.c src/spam/rspamd.h \
 src/lib/buf.h src/spam/rspamd_reply.h src/lib/alloc.h src/lib/log.h
src/spam/rspamd.h:
src/lib/buf.h:
src/spam/rspamd_reply.h:
src/lib/alloc.h:
src/lib/log.h:
