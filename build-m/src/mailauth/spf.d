build-m/src/mailauth/spf.o: src/mailauth/spf.c src/mailauth/spf.h \
 src/mailauth/spf_record.h src/lib/buf.h src/lib/alloc.h
src/mailauth/spf.h:
src/mailauth/spf_record.h:
src/lib/buf.h:
src/lib/alloc.h:
