build-m/tests/unit/mailauth/test_spf.o: tests/unit/mailauth/test_spf.c \
 src/mailauth/spf.h src/mailauth/spf_record.h src/lib/buf.h \
 tests/unit/test.h
src/mailauth/spf.h:
src/mailauth/spf_record.h:
src/lib/buf.h:
tests/unit/test.h:
