build-m/tests/unit/store/test_store_route.o: \
 tests/unit/store/test_store_route.c src/deliver/route.h \
 src/store/committer.h src/store/store.h src/lib/buf.h tests/unit/test.h
src/deliver/route.h:
src/store/committer.h:
src/store/store.h:
src/lib/buf.h:
tests/unit/test.h:
