build-m/src/mime/decode.o: src/mime/decode.c src/mime/mime_internal.h \
 src/lib/buf.h src/mime/mime.h
src/mime/mime_internal.h:
src/lib/buf.h:
src/mime/mime.h:
