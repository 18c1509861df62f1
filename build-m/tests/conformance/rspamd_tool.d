build-m/tests/conformance/rspamd_tool.o: tests/conformance/rspamd_tool.c \
 src/lib/alloc.h src/lib/buf.h src/spam/rspamd.h src/spam/rspamd_reply.h \
 src/spam/verdict.h
src/lib/alloc.h:
src/lib/buf.h:
src/spam/rspamd.h:
src/spam/rspamd_reply.h:
src/spam/verdict.h:
