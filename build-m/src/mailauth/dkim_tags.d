build-m/src/mailauth/dkim_tags.o: src/mailauth/dkim_tags.c \
 src/lib/alloc.h src/mailauth/dkim.h src/lib/buf.h src/mime/mime.h
src/lib/alloc.h:
src/mailauth/dkim.h:
src/lib/buf.h:
src/mime/mime.h:
