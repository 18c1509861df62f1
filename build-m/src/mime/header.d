build-m/src/mime/header.o: src/mime/header.c src/mime/mime_internal.h \
 src/lib/buf.h src/mime/mime.h
src/mime/mime_internal.h:
src/lib/buf.h:
src/mime/mime.h:
