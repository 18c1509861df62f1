build-m/src/pop3/session.o: src/pop3/session.c src/auth/sasl.h \
 src/lib/buf.h src/lib/alloc.h src/lib/clock.h src/lib/linereader.h \
 src/lib/log.h src/lib/loopwatch.h src/net/conn.h src/net/listen.h \
 src/pop3/parse.h src/pop3/server.h src/auth/login.h src/auth/scram.h \
 src/store/committer.h src/lib/config.h src/net/connlimit.h \
 src/store/store.h
src/auth/sasl.h:
src/lib/buf.h:
src/lib/alloc.h:
src/lib/clock.h:
src/lib/linereader.h:
src/lib/log.h:
src/lib/loopwatch.h:
src/net/conn.h:
src/net/listen.h:
src/pop3/parse.h:
src/pop3/server.h:
src/auth/login.h:
src/auth/scram.h:
src/store/committer.h:
src/lib/config.h:
src/net/connlimit.h:
src/store/store.h:
