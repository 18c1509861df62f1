build-m/tests/unit/mime/test_header.o: tests/unit/mime/test_header.c \
 src/mime/mime.h src/lib/buf.h tests/unit/mime/mime_test.h \
 tests/unit/test.h
src/mime/mime.h:
src/lib/buf.h:
tests/unit/mime/mime_test.h:
tests/unit/test.h:
