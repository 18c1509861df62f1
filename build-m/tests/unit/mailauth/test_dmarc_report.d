build-m/tests/unit/mailauth/test_dmarc_report.o: \
 tests/unit/mailauth/test_dmarc_report.c src/lib/buf.h \
 src/mailauth/dmarc_report.h src/mime/mime.h tests/unit/test.h
src/lib/buf.h:
src/mailauth/dmarc_report.h:
src/mime/mime.h:
tests/unit/test.h:
