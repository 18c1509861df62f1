build-m/src/lib/cidr.o: src/lib/cidr.c src/lib/cidr.h src/lib/buf.h
src/lib/cidr.h:
src/lib/buf.h:
