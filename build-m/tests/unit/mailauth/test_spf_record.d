build-m/tests/unit/mailauth/test_spf_record.o: \
 tests/unit/mailauth/test_spf_record.c src/mailauth/spf_record.h \
 src/lib/buf.h tests/unit/test.h
src/mailauth/spf_record.h:
src/lib/buf.h:
tests/unit/test.h:
