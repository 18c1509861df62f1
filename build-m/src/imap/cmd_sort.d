build-m/src/imap/cmd_sort.o: src/imap/cmd_sort.c src/imap/session.h \
 src/imap/uidmap.h src/imap/parse.h src/lib/buf.h src/imap/server.h \
 src/auth/login.h src/auth/scram.h src/store/committer.h src/lib/config.h \
 src/net/connlimit.h src/store/store.h src/lib/spool.h \
 src/lib/linereader.h src/lib/alloc.h src/mime/mime.h
src/imap/session.h:
src/imap/uidmap.h:
src/imap/parse.h:
src/lib/buf.h:
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
src/mime/mime.h:
