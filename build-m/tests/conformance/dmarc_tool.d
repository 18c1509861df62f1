build-m/tests/conformance/dmarc_tool.o: tests/conformance/dmarc_tool.c \
 src/lib/buf.h src/mailauth/dmarc_dns.h src/mailauth/dmarc.h \
 src/mailauth/dkim.h src/mailauth/spf_record.h src/net/dns.h
src/lib/buf.h:
src/mailauth/dmarc_dns.h:
src/mailauth/dmarc.h:
src/mailauth/dkim.h:
src/mailauth/spf_record.h:
src/net/dns.h:
