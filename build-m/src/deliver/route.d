build-m/src/deliver/route.o: src/deliver/route.c src/deliver/route.h \
 src/store/committer.h src/store/store.h src/lib/buf.h src/lib/alloc.h \
 src/lib/log.h
src/deliver/route.h:
src/store/committer.h:
src/store/store.h:
src/lib/buf.h:
src/lib/alloc.h:
src/lib/log.h:
