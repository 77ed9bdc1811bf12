// A tiny built-in 5 × 7 bitmap font, for the legend strip of the token pictures: upper-case
// letters, digits and a little punctuation (lower case is drawn as upper case; anything else as a
// blank), so pictures need no font file or library.
#pragma once
#include <cstdint>
#include <string>

namespace pomt {

constexpr int kGlyphWidth = 5, kGlyphHeight = 7, kGlyphAdvance = 6;  // 1 px between glyphs

// Whether pixel (x, y) of character c's glyph is set (x < kGlyphWidth, y < kGlyphHeight).
bool glyph_pixel(char c, int x, int y);

// Draws `text` at (left, top) into an RGB image (width × height × 3), clipped to the image, at
// `scale` × scale pixels per glyph pixel.
void draw_text(uint8_t* rgb, int width, int height, int left, int top, const std::string& text, const uint8_t color[3],
               int scale = 1);

// The pixel width `text` takes at `scale`.
inline int text_width(const std::string& text, int scale = 1) { return int(text.size()) * kGlyphAdvance * scale; }

}  // namespace pomt
