// The one translation unit that compiles stb_image (v2.27, vendored unmodified in third_party/stb).
// Only the formats pomt documents are compiled in (less code that parses untrusted bytes), and
// only the from-memory API: image/image.cpp reads files itself so that missing files and directories
// get pomt's own messages.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#define STBI_NO_LINEAR

// stb 2.27 is quiet at -Wall -Wextra with GCC 12 and Clang 14; these guard other compiler versions
// (third-party code we do not edit).
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wshadow"
#endif

#include "stb/stb_image.h"

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
