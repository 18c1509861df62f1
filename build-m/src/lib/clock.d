build-m/src/lib/clock.o: src/lib/clock.c src/lib/clock.h
src/lib/clock.h:
