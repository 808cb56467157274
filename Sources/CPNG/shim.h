// libpng's simplified API (png_image_*): no setjmp/longjmp crosses into Swift.
#include <png.h>
static inline unsigned int tsr_png_image_version(void) { return PNG_IMAGE_VERSION; }
static inline unsigned int tsr_png_format_rgba(void) { return PNG_FORMAT_RGBA; }
