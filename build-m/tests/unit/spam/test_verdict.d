build-m/tests/unit/spam/test_verdict.o: tests/unit/spam/test_verdict.c \
 src/lib/buf.h src/spam/rspamd_reply.h src/spam/verdict.h \
 tests/unit/test.h
src/lib/buf.h:
src/spam/rspamd_reply.h:
src/spam/verdict.h:
tests/unit/test.h:
