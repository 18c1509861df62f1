build-m/src/cli/admin.o: src/cli/admin.c src/auth/login.h \
 src/auth/scram.h src/store/committer.h src/auth/password.h \
 src/lib/clock.h src/cli/cli.h src/lib/config.h src/lib/buf.h \
 src/store/store.h src/lib/alloc.h src/lib/log.h src/smtp/parse.h
src/auth/login.h:
src/auth/scram.h:
src/store/committer.h:
src/auth/password.h:
src/lib/clock.h:
src/cli/cli.h:
src/lib/config.h:
src/lib/buf.h:
src/store/store.h:
src/lib/alloc.h:
src/lib/log.h:
src/smtp/parse.h:
