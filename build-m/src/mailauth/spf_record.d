build-m/src/mailauth/spf_record.o: src/mailauth/spf_record.c \
 src/mailauth/spf_record.h src/lib/buf.h src/lib/alloc.h
src/mailauth/spf_record.h:
src/lib/buf.h:
src/lib/alloc.h:
