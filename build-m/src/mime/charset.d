build-m/src/mime/charset.o: src/mime/charset.c src/lib/utf8.h \
 src/lib/buf.h src/mime/mime_internal.h src/mime/mime.h
src/lib/utf8.h:
src/lib/buf.h:
src/mime/mime_internal.h:
src/mime/mime.h:
