build-m/src/smtp/parse.o: src/smtp/parse.c src/smtp/parse.h src/lib/buf.h \
 src/lib/utf8.h
src/smtp/parse.h:
src/lib/buf.h:
src/lib/utf8.h:
