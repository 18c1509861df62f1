build-m/tests/conformance/spf_suite.o: tests/conformance/spf_suite.c \
 src/lib/alloc.h src/lib/buf.h src/mailauth/spf.h \
 src/mailauth/spf_record.h src/mailauth/spf_dns.h src/net/dns.h
src/lib/alloc.h:
src/lib/buf.h:
src/mailauth/spf.h:
src/mailauth/spf_record.h:
src/mailauth/spf_dns.h:
src/net/dns.h:
