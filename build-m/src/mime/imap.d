build-m/src/mime/imap.o: src/mime/imap.c src/mime/mime_internal.h \
 src/lib/buf.h src/mime/mime.h
src/mime/mime_internal.h:
src/lib/buf.h:
src/mime/mime.h:
