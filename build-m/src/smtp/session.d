build-m/src/smtp/session.o: src/smtp/session.c src/auth/sasl.h \
 src/lib/buf.h src/auth/scram.h src/deliver/route.h src/store/committer.h \
 src/store/store.h src/lib/clock.h src/mime/mime.h src/net/conn.h \
 src/lib/linereader.h src/net/connlimit.h src/lib/alloc.h src/lib/log.h \
 src/lib/loopwatch.h src/lib/spool.h src/net/listen.h src/net/tls.h \
 src/lib/cidr.h src/smtp/headers.h src/smtp/msgauth.h \
 src/mailauth/dmarc_report.h src/net/dns.h src/spam/rspamd.h \
 src/spam/rspamd_reply.h src/spam/verdict.h src/smtp/parse.h \
 src/smtp/server.h src/auth/login.h src/lib/config.h \
 src/store/dmarc_jobs.h
src/auth/sasl.h:
src/lib/buf.h:
src/auth/scram.h:
src/deliver/route.h:
src/store/committer.h:
src/store/store.h:
src/lib/clock.h:
src/mime/mime.h:
src/net/conn.h:
src/lib/linereader.h:
src/net/connlimit.h:
src/lib/alloc.h:
src/lib/log.h:
src/lib/loopwatch.h:
src/lib/spool.h:
src/net/listen.h:
src/net/tls.h:
src/lib/cidr.h:
src/smtp/headers.h:
src/smtp/msgauth.h:
src/mailauth/dmarc_report.h:
src/net/dns.h:
src/spam/rspamd.h:
src/spam/rspamd_reply.h:
src/spam/verdict.h:
src/smtp/parse.h:
src/smtp/server.h:
src/auth/login.h:
src/lib/config.h:
src/store/dmarc_jobs.h:
