build-m/tests/unit/mime/test_section.o: tests/unit/mime/test_section.c \
 src/mime/mime.h src/lib/buf.h tests/unit/mime/mime_test.h \
 tests/unit/test.h
src/mime/mime.h:
src/lib/buf.h:
tests/unit/mime/mime_test.h:
tests/unit/test.h:
