build-m/src/cli/dns.o: src/cli/dns.c src/cli/cli.h src/lib/config.h \
 src/lib/buf.h src/store/store.h src/mailauth/dkim_keys.h
src/cli/cli.h:
src/lib/config.h:
src/lib/buf.h:
src/store/store.h:
src/mailauth/dkim_keys.h:
