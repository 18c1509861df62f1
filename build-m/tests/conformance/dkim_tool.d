build-m/tests/conformance/dkim_tool.o: tests/conformance/dkim_tool.c \
 src/lib/alloc.h src/lib/buf.h src/mailauth/dkim.h
src/lib/alloc.h:
src/lib/buf.h:
src/mailauth/dkim.h:
