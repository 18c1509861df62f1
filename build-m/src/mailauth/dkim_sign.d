build-m/src/mailauth/dkim_sign.o: src/mailauth/dkim_sign.c \
 src/lib/alloc.h src/mailauth/dkim_internal.h src/mailauth/dkim.h \
 src/lib/buf.h src/mime/mime.h
src/lib/alloc.h:
src/mailauth/dkim_internal.h:
src/mailauth/dkim.h:
src/lib/buf.h:
src/mime/mime.h:
