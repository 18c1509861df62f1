build-m/src/mime/search.o: src/mime/search.c src/mime/mime_internal.h \
 src/lib/buf.h src/mime/mime.h
src/mime/mime_internal.h:
src/lib/buf.h:
src/mime/mime.h:
