build-m/tests/unit/mailauth/test_dmarc_pipeline.o: \
 tests/unit/mailauth/test_dmarc_pipeline.c src/mailauth/authres.h \
 src/lib/buf.h src/mailauth/dkim.h src/mailauth/dmarc.h \
 src/mailauth/spf_record.h src/mime/mime.h tests/unit/test.h
src/mailauth/authres.h:
src/lib/buf.h:
src/mailauth/dkim.h:
src/mailauth/dmarc.h:
src/mailauth/spf_record.h:
src/mime/mime.h:
tests/unit/test.h:
