build-m/src/outbound/ehlo.o: src/outbound/ehlo.c src/outbound/ehlo.h
src/outbound/ehlo.h:
