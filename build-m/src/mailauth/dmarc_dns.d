build-m/src/mailauth/dmarc_dns.o: src/mailauth/dmarc_dns.c \
 src/mailauth/dmarc_dns.h src/mailauth/dmarc.h src/mailauth/dkim.h \
 src/lib/buf.h src/mailauth/spf_record.h src/net/dns.h src/lib/alloc.h
src/mailauth/dmarc_dns.h:
src/mailauth/dmarc.h:
src/mailauth/dkim.h:
src/lib/buf.h:
src/mailauth/spf_record.h:
src/net/dns.h:
src/lib/alloc.h:
