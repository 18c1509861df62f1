build-m/src/auth/scram.o: src/auth/scram.c src/auth/scram.h \
 src/auth/sasl.h src/lib/buf.h src/lib/alloc.h
src/auth/scram.h:
src/auth/sasl.h:
src/lib/buf.h:
src/lib/alloc.h:
