build-m/src/auth/login.o: src/auth/login.c src/auth/login.h \
 src/auth/scram.h src/store/committer.h src/auth/password.h \
 src/lib/alloc.h src/lib/clock.h src/lib/log.h src/store/store.h \
 src/lib/buf.h
src/auth/login.h:
src/auth/scram.h:
src/store/committer.h:
src/auth/password.h:
src/lib/alloc.h:
src/lib/clock.h:
src/lib/log.h:
src/store/store.h:
src/lib/buf.h:
