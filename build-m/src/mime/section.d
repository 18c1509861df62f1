build-m/src/mime/section.o: src/mime/section.c src/mime/mime_internal.h \
 src/lib/buf.h src/mime/mime.h
src/mime/mime_internal.h:
src/lib/buf.h:
src/mime/mime.h:
