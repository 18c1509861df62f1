build-m/src/smtp/headers.o: src/smtp/headers.c src/smtp/headers.h \
 src/lib/spool.h src/lib/buf.h src/mime/mime.h
src/smtp/headers.h:
src/lib/spool.h:
src/lib/buf.h:
src/mime/mime.h:
