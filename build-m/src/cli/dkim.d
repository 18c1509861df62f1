build-m/src/cli/dkim.o: src/cli/dkim.c src/cli/cli.h src/lib/config.h \
 src/lib/buf.h src/store/store.h src/lib/clock.h src/mailauth/dkim_keys.h
src/cli/cli.h:
src/lib/config.h:
src/lib/buf.h:
src/store/store.h:
src/lib/clock.h:
src/mailauth/dkim_keys.h:
