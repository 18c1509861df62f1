build-m/src/lib/loopwatch.o: src/lib/loopwatch.c src/lib/loopwatch.h \
 src/lib/log.h
src/lib/loopwatch.h:
src/lib/log.h:
