build-m/src/outbound/dmarc_send.o: src/outbound/dmarc_send.c \
 src/outbound/dmarc_send.h src/net/dns.h src/lib/buf.h \
 src/store/committer.h src/auth/sasl.h src/lib/alloc.h src/lib/log.h \
 src/mailauth/dmarc_report.h src/store/store.h
src/outbound/dmarc_send.h:
src/net/dns.h:
src/lib/buf.h:
src/store/committer.h:
src/auth/sasl.h:
src/lib/alloc.h:
src/lib/log.h:
src/mailauth/dmarc_report.h:
src/store/store.h:
