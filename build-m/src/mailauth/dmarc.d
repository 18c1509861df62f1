build-m/src/mailauth/dmarc.o: src/mailauth/dmarc.c src/mailauth/dmarc.h \
 src/mailauth/dkim.h src/lib/buf.h src/mailauth/spf_record.h \
 src/lib/utf8.h src/mime/mime.h
src/mailauth/dmarc.h:
src/mailauth/dkim.h:
src/lib/buf.h:
src/mailauth/spf_record.h:
src/lib/utf8.h:
src/mime/mime.h:
