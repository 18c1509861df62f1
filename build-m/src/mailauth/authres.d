build-m/src/mailauth/authres.o: src/mailauth/authres.c \
 src/mailauth/authres.h src/lib/buf.h src/mailauth/dkim.h \
 src/mailauth/dmarc.h src/mailauth/spf_record.h src/lib/utf8.h
src/mailauth/authres.h:
src/lib/buf.h:
src/mailauth/dkim.h:
src/mailauth/dmarc.h:
src/mailauth/spf_record.h:
src/lib/utf8.h:
