build-m/src/mailauth/dmarc_record.o: src/mailauth/dmarc_record.c \
 src/mailauth/dmarc.h src/mailauth/dkim.h src/lib/buf.h \
 src/mailauth/spf_record.h
src/mailauth/dmarc.h:
src/mailauth/dkim.h:
src/lib/buf.h:
src/mailauth/spf_record.h:
