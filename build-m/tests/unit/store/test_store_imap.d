build-m/tests/unit/store/test_store_imap.o: \
 tests/unit/store/test_store_imap.c src/store/store.h src/lib/buf.h \
 tests/unit/test.h
src/store/store.h:
src/lib/buf.h:
tests/unit/test.h:
