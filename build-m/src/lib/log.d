build-m/src/lib/log.o: src/lib/log.c src/lib/log.h src/lib/buf.h \
 src/lib/utf8.h
src/lib/log.h:
src/lib/buf.h:
src/lib/utf8.h:
