build-m/tests/unit/smtp/test_parse.o: tests/unit/smtp/test_parse.c \
 src/smtp/parse.h src/lib/buf.h tests/unit/test.h
src/smtp/parse.h:
src/lib/buf.h:
tests/unit/test.h:
