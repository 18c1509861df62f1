build-m/src/outbound/dsn.o: src/outbound/dsn.c src/outbound/dsn.h \
 src/lib/buf.h src/mime/mime.h
src/outbound/dsn.h:
src/lib/buf.h:
src/mime/mime.h:
