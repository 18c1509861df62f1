build-m/src/cli/report_send.o: src/cli/report_send.c src/cli/cli.h \
 src/lib/config.h src/lib/buf.h src/store/store.h src/lib/alloc.h \
 src/lib/clock.h src/net/dns.h src/outbound/dmarc_send.h \
 src/store/committer.h
src/cli/cli.h:
src/lib/config.h:
src/lib/buf.h:
src/store/store.h:
src/lib/alloc.h:
src/lib/clock.h:
src/net/dns.h:
src/outbound/dmarc_send.h:
src/store/committer.h:
