build-m/tests/unit/store/test_store_dmarc.o: \
 tests/unit/store/test_store_dmarc.c src/mailauth/dmarc_report.h \
 src/lib/buf.h src/outbound/dmarc_send.h src/net/dns.h \
 src/store/committer.h src/store/store.h tests/unit/test.h
src/mailauth/dmarc_report.h:
src/lib/buf.h:
src/outbound/dmarc_send.h:
src/net/dns.h:
src/store/committer.h:
src/store/store.h:
tests/unit/test.h:
