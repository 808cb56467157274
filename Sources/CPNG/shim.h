// libpng's simplified API (png_image_*): no setjmp/longjmp crosses into Swift.
#include <png.h>
static inline unsigned int tsr_png_image_version(void) { return PNG_IMAGE_VERSION; }
static inline unsigned int tsr_png_format_rgba(void) { return PNG_FORMAT_RGBA; }

// Render's encoder: libpng's full write API with a chosen zlib level and row filter (the simplified API fixes
// level 3 under PNG_IMAGE_FLAG_FAST). libpng reports errors by longjmp, so the setjmp lives here, in C, and
// Swift sees a plain return code. color_type 3 = palette (plte: n × RGB, trns: n alphas or NULL), 6 = RGBA.
// On success *out is a malloc'd buffer of *out_len bytes that the caller frees with free().
#include <stdlib.h>
#include <string.h>
typedef struct { unsigned char *data; size_t len, cap; int failed; } tsr_png_buffer;
static inline void tsr_png_write_data(png_structp p, png_bytep d, size_t n) {
    tsr_png_buffer *b = (tsr_png_buffer *)png_get_io_ptr(p);
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n) cap *= 2;
        unsigned char *q = (unsigned char *)realloc(b->data, cap);
        if (!q) { b->failed = 1; return; }
        b->data = q; b->cap = cap;
    }
    memcpy(b->data + b->len, d, n); b->len += n;
}
static inline void tsr_png_flush(png_structp p) { (void)p; }
static inline int tsr_png_encode(const unsigned char *pixels, int width, int height, int color_type,
                                 const unsigned char *plte, const unsigned char *trns, int ncolors,
                                 int level, int filter, unsigned char **out, size_t *out_len) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png) return 1;
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_write_struct(&png, NULL); return 1; }
    tsr_png_buffer buf = { NULL, 0, 0, 0 };
    png_bytep *rows = (png_bytep *)malloc(sizeof(png_bytep) * (size_t)height);
    if (!rows) { png_destroy_write_struct(&png, &info); return 1; }
    if (setjmp(png_jmpbuf(png))) { png_destroy_write_struct(&png, &info); free(rows); free(buf.data); return 2; }
    png_set_write_fn(png, &buf, tsr_png_write_data, tsr_png_flush);
    png_set_compression_level(png, level);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, filter);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_BASE, PNG_FILTER_TYPE_BASE);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color colors[256];
        for (int i = 0; i < ncolors; i++) { colors[i].red = plte[3 * i]; colors[i].green = plte[3 * i + 1]; colors[i].blue = plte[3 * i + 2]; }
        png_set_PLTE(png, info, colors, ncolors);
        if (trns) png_set_tRNS(png, info, (png_bytep)trns, ncolors, NULL);
    }
    size_t stride = (size_t)width * (color_type == PNG_COLOR_TYPE_PALETTE ? 1 : 4);
    for (int y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + (size_t)y * stride);
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    if (buf.failed) { free(buf.data); return 3; }
    *out = buf.data; *out_len = buf.len;
    return 0;
}
static inline int tsr_png_filter_none(void) { return PNG_FILTER_NONE; }
static inline int tsr_png_filter_sub(void) { return PNG_FILTER_SUB; }
