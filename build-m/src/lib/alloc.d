build-m/src/lib/alloc.o: src/lib/alloc.c src/lib/alloc.h
src/lib/alloc.h:
