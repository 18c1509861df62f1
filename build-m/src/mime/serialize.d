build-m/src/mime/serialize.o: src/mime/serialize.c src/lib/alloc.h \
 src/mime/mime_internal.h src/lib/buf.h src/mime/mime.h
src/lib/alloc.h:
src/mime/mime_internal.h:
src/lib/buf.h:
src/mime/mime.h:
