build-m/src/mailauth/dmarc_lookup.o: src/mailauth/dmarc_lookup.c \
 src/lib/alloc.h src/mailauth/dmarc.h src/mailauth/dkim.h src/lib/buf.h \
 src/mailauth/spf_record.h
src/lib/alloc.h:
src/mailauth/dmarc.h:
src/mailauth/dkim.h:
src/lib/buf.h:
src/mailauth/spf_record.h:
