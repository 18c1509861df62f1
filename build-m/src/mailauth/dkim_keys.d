build-m/src/mailauth/dkim_keys.o: src/mailauth/dkim_keys.c \
 src/mailauth/dkim_keys.h src/lib/buf.h src/lib/alloc.h src/lib/log.h \
 src/mailauth/dkim.h src/mailauth/dkim_internal.h src/mime/mime.h
src/mailauth/dkim_keys.h:
src/lib/buf.h:
src/lib/alloc.h:
src/lib/log.h:
src/mailauth/dkim.h:
src/mailauth/dkim_internal.h:
src/mime/mime.h:
