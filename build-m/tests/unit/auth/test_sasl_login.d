build-m/tests/unit/auth/test_sasl_login.o: \
 tests/unit/auth/test_sasl_login.c src/auth/login.h src/auth/scram.h \
 src/store/committer.h src/auth/password.h src/auth/sasl.h src/lib/buf.h \
 tests/unit/test.h
src/auth/login.h:
src/auth/scram.h:
src/store/committer.h:
src/auth/password.h:
src/auth/sasl.h:
src/lib/buf.h:
tests/unit/test.h:
