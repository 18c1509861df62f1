build-m/src/outbound/ratelimit.o: src/outbound/ratelimit.c \
 src/outbound/ratelimit.h src/lib/alloc.h
src/outbound/ratelimit.h:
src/lib/alloc.h:
