build-m/src/smtp/msgauth.o: src/smtp/msgauth.c src/smtp/msgauth.h \
 src/lib/buf.h src/lib/spool.h src/mailauth/dmarc_report.h src/net/dns.h \
 src/store/committer.h src/lib/alloc.h src/lib/log.h \
 src/mailauth/authres.h src/mailauth/dkim.h src/mailauth/dmarc.h \
 src/mailauth/spf_record.h src/mailauth/dmarc_dns.h src/mailauth/spf.h \
 src/mailauth/spf_dns.h src/mime/mime.h src/smtp/headers.h
src/smtp/msgauth.h:
src/lib/buf.h:
src/lib/spool.h:
src/mailauth/dmarc_report.h:
src/net/dns.h:
src/store/committer.h:
src/lib/alloc.h:
src/lib/log.h:
src/mailauth/authres.h:
src/mailauth/dkim.h:
src/mailauth/dmarc.h:
src/mailauth/spf_record.h:
src/mailauth/dmarc_dns.h:
src/mailauth/spf.h:
src/mailauth/spf_dns.h:
src/mime/mime.h:
src/smtp/headers.h:
