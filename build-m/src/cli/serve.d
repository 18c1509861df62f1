build-m/src/cli/serve.o: src/cli/serve.c src/cli/cli.h src/lib/config.h \
 src/lib/buf.h src/store/store.h src/store/committer.h \
 src/store/dmarc_jobs.h src/mailauth/dmarc_report.h src/lib/alloc.h \
 src/lib/log.h src/lib/loopwatch.h src/net/listen.h src/net/tls.h \
 src/auth/login.h src/auth/scram.h src/lib/clock.h \
 src/mailauth/dkim_keys.h src/spam/rspamd.h src/spam/rspamd_reply.h \
 src/imap/server.h src/net/connlimit.h src/outbound/agent.h \
 src/outbound/dmarc_send.h src/net/dns.h src/pop3/server.h \
 src/smtp/server.h
src/cli/cli.h:
src/lib/config.h:
src/lib/buf.h:
src/store/store.h:
src/store/committer.h:
src/store/dmarc_jobs.h:
src/mailauth/dmarc_report.h:
src/lib/alloc.h:
src/lib/log.h:
src/lib/loopwatch.h:
src/net/listen.h:
src/net/tls.h:
src/auth/login.h:
src/auth/scram.h:
src/lib/clock.h:
src/mailauth/dkim_keys.h:
src/spam/rspamd.h:
src/spam/rspamd_reply.h:
src/imap/server.h:
src/net/connlimit.h:
src/outbound/agent.h:
src/outbound/dmarc_send.h:
src/net/dns.h:
src/pop3/server.h:
src/smtp/server.h:
