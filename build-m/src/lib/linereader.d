build-m/src/lib/linereader.o: src/lib/linereader.c src/lib/linereader.h
src/lib/linereader.h:
