build-m/src/mailauth/dmarc_report_write.o: \
 src/mailauth/dmarc_report_write.c src/lib/alloc.h \
 src/mailauth/dmarc_report.h src/lib/buf.h
src/lib/alloc.h:
src/mailauth/dmarc_report.h:
src/lib/buf.h:
