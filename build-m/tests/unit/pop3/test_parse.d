build-m/tests/unit/pop3/test_parse.o: tests/unit/pop3/test_parse.c \
 src/pop3/parse.h src/lib/buf.h tests/unit/test.h
src/pop3/parse.h:
src/lib/buf.h:
tests/unit/test.h:
