build-m/src/auth/sasl.o: src/auth/sasl.c src/auth/sasl.h src/lib/buf.h
src/auth/sasl.h:
src/lib/buf.h:
