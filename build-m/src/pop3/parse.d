build-m/src/pop3/parse.o: src/pop3/parse.c src/pop3/parse.h src/lib/buf.h
src/pop3/parse.h:
src/lib/buf.h:
