build-m/tests/unit/mailauth/test_dmarc_record.o: \
 tests/unit/mailauth/test_dmarc_record.c src/mailauth/dmarc.h \
 src/mailauth/dkim.h src/lib/buf.h src/mailauth/spf_record.h \
 tests/unit/test.h
src/mailauth/dmarc.h:
src/mailauth/dkim.h:
src/lib/buf.h:
src/mailauth/spf_record.h:
tests/unit/test.h:
