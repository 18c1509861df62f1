build-m/src/mailauth/spf_dns.o: src/mailauth/spf_dns.c \
 src/mailauth/spf_dns.h src/mailauth/spf.h src/mailauth/spf_record.h \
 src/lib/buf.h src/net/dns.h src/lib/alloc.h
src/mailauth/spf_dns.h:
src/mailauth/spf.h:
src/mailauth/spf_record.h:
src/lib/buf.h:
src/net/dns.h:
src/lib/alloc.h:
