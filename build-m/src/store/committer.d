build-m/src/store/committer.o: src/store/committer.c \
 src/store/committer.h src/lib/alloc.h src/lib/spool.h src/lib/buf.h \
 src/lib/log.h src/lib/loopwatch.h src/mime/mime.h src/store/store.h
src/store/committer.h:
src/lib/alloc.h:
src/lib/spool.h:
src/lib/buf.h:
src/lib/log.h:
src/lib/loopwatch.h:
src/mime/mime.h:
src/store/store.h:
