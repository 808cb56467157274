// zlib's gz* stream API: transparent reading of .gz (and plain) text files.
#include <zlib.h>
