build-m/src/outbound/agent.o: src/outbound/agent.c src/outbound/agent.h \
 src/lib/config.h src/lib/buf.h src/store/committer.h src/store/store.h \
 src/auth/sasl.h src/deliver/route.h src/lib/alloc.h src/lib/clock.h \
 src/lib/linereader.h src/lib/log.h src/net/conn.h src/net/dns.h \
 src/outbound/dsn.h src/outbound/ehlo.h src/outbound/ratelimit.h \
 src/outbound/reply.h src/smtp/parse.h
src/outbound/agent.h:
src/lib/config.h:
src/lib/buf.h:
src/store/committer.h:
src/store/store.h:
src/auth/sasl.h:
src/deliver/route.h:
src/lib/alloc.h:
src/lib/clock.h:
src/lib/linereader.h:
src/lib/log.h:
src/net/conn.h:
src/net/dns.h:
src/outbound/dsn.h:
src/outbound/ehlo.h:
src/outbound/ratelimit.h:
src/outbound/reply.h:
src/smtp/parse.h:
