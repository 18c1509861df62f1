build-m/src/spam/rspamd_reply.o: src/spam/rspamd_reply.c \
 src/spam/rspamd_reply.h src/lib/buf.h src/lib/alloc.h
src/spam/rspamd_reply.h:
src/lib/buf.h:
src/lib/alloc.h:
