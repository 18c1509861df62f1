build-m/tests/unit/lib/test_buf_config.o: \
 tests/unit/lib/test_buf_config.c src/lib/buf.h src/lib/config.h \
 tests/unit/test.h
src/lib/buf.h:
src/lib/config.h:
tests/unit/test.h:
