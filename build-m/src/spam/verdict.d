build-m/src/spam/verdict.o: src/spam/verdict.c src/spam/verdict.h \
 src/lib/buf.h src/spam/rspamd_reply.h
src/spam/verdict.h:
src/lib/buf.h:
src/spam/rspamd_reply.h:
