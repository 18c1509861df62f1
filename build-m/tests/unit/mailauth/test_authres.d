build-m/tests/unit/mailauth/test_authres.o: \
 tests/unit/mailauth/test_authres.c src/mailauth/authres.h src/lib/buf.h \
 src/mailauth/dkim.h src/mailauth/dmarc.h src/mailauth/spf_record.h \
 tests/unit/test.h
src/mailauth/authres.h:
src/lib/buf.h:
src/mailauth/dkim.h:
src/mailauth/dmarc.h:
src/mailauth/spf_record.h:
tests/unit/test.h:
