build-m/src/imap/session.o: src/imap/session.c src/auth/sasl.h \
 src/lib/buf.h src/imap/session.h src/imap/uidmap.h src/imap/parse.h \
 src/imap/server.h src/auth/login.h src/auth/scram.h \
 src/store/committer.h src/lib/config.h src/net/connlimit.h \
 src/store/store.h src/lib/spool.h src/lib/linereader.h src/lib/alloc.h \
 src/lib/clock.h src/lib/log.h src/lib/loopwatch.h src/mime/mime.h \
 src/net/conn.h src/net/deflate.h src/net/listen.h
src/auth/sasl.h:
src/lib/buf.h:
src/imap/session.h:
src/imap/uidmap.h:
src/imap/parse.h:
src/imap/server.h:
src/auth/login.h:
src/auth/scram.h:
src/store/committer.h:
src/lib/config.h:
src/net/connlimit.h:
src/store/store.h:
src/lib/spool.h:
src/lib/linereader.h:
src/lib/alloc.h:
src/lib/clock.h:
src/lib/log.h:
src/lib/loopwatch.h:
src/mime/mime.h:
src/net/conn.h:
src/net/deflate.h:
src/net/listen.h:
