build-m/src/auth/password.o: src/auth/password.c src/auth/password.h \
 src/lib/alloc.h src/lib/log.h
src/auth/password.h:
src/lib/alloc.h:
src/lib/log.h:
