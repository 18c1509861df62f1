build-m/src/lib/utf8.o: src/lib/utf8.c src/lib/utf8.h src/lib/buf.h
src/lib/utf8.h:
src/lib/buf.h:
