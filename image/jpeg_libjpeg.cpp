#include "image/jpeg_libjpeg.h"

#ifdef POMT_USE_LIBJPEG

#include <csetjmp>
#include <cstdio>

#include <jpeglib.h>

#include "pomt/error.h"

namespace pomt {

namespace {

struct ErrorManager {
    jpeg_error_mgr base;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

// libjpeg's default error_exit calls exit(): jump back instead and report one line.
void on_error(j_common_ptr cinfo) {
    ErrorManager* err = reinterpret_cast<ErrorManager*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, err->message);
    std::longjmp(err->jump, 1);
}

// Warnings (e.g. extraneous bytes) are not errors for PIL either.
void on_message(j_common_ptr, int) {}

}  // namespace

bool libjpeg_available() { return true; }

bool decode_jpeg_libjpeg(const unsigned char* bytes, size_t size, const std::string& name, Image* out) {
    jpeg_decompress_struct cinfo;
    ErrorManager err;
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = on_error;
    err.base.emit_message = on_message;
    Image img;  // declared before setjmp so longjmp leaves no live object half-built on this frame
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        fail("image '" + name + "': cannot decode JPEG: " + err.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    // PIL's defaults: accurate integer IDCT, fancy upsampling; grey is replicated into RGB.
    cinfo.out_color_space = JCS_RGB;
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&cinfo);
    img.width = int(cinfo.output_width);
    img.height = int(cinfo.output_height);
    img.rgb.resize(size_t(img.width) * size_t(img.height) * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = img.rgb.data() + size_t(cinfo.output_scanline) * size_t(img.width) * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *out = std::move(img);
    return true;
}

}  // namespace pomt

#else

namespace pomt {

bool libjpeg_available() { return false; }

bool decode_jpeg_libjpeg(const unsigned char*, size_t, const std::string&, Image*) { return false; }

}  // namespace pomt

#endif
