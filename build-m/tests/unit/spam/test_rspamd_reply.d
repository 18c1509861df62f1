build-m/tests/unit/spam/test_rspamd_reply.o: \
 tests/unit/spam/test_rspamd_reply.c src/lib/alloc.h src/lib/buf.h \
 src/spam/rspamd_reply.h tests/unit/test.h
src/lib/alloc.h:
src/lib/buf.h:
src/spam/rspamd_reply.h:
tests/unit/test.h:
