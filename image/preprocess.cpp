#include "image/preprocess.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "pomt/error.h"

namespace pomt {
namespace {

// ---------------------------------------------------------------------------------------------
// Pillow's convolution resampling (libImaging/Resample.c), re-implemented from its description.
// Everything that affects the bytes is kept as Pillow does it: the filters and supports, the
// support widened by the downscale factor, rounded window bounds, weights normalised to sum 1 in
// double, then converted to fixed point with 22 fractional bits (32 - 8 - 2: two bits of headroom
// for the negative lobes) rounding half away from zero, integer accumulation starting at one half,
// and an 8-bit clip after each of the two passes (horizontal first).

constexpr int kPrecisionBits = 32 - 8 - 2;

double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_filter(double x) {
    if (x < 0.0) x = -x;
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x = x * M_PI;
    return std::sin(x) / x * (0.54f + 0.46f * std::cos(x));  // float constants, as Pillow writes them
}

double bicubic_filter(double x) {
    const double a = -0.5;  // Pillow's (and Keys') choice; OpenCV uses -0.75
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

double sinc_filter(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return std::sin(x) / x;
}

double lanczos_filter(double x) {
    if (-3.0 <= x && x < 3.0) return sinc_filter(x) * sinc_filter(x / 3);
    return 0.0;
}

struct Filter {
    double (*fn)(double);
    double support;
};

Filter filter_for(Resample r) {
    switch (r) {
        case Resample::Box: return {box_filter, 0.5};
        case Resample::Bilinear: return {bilinear_filter, 1.0};
        case Resample::Hamming: return {hamming_filter, 1.0};
        case Resample::Bicubic: return {bicubic_filter, 2.0};
        case Resample::Lanczos: return {lanczos_filter, 3.0};
        case Resample::Nearest: break;
    }
    fail("internal: no convolution filter for nearest");
}

// Fixed-point weights for output positions [out0, out0 + count) of a resample from in_size to
// out_size samples. Each output position's window is independent of the others, so computing a
// sub-range gives exactly Pillow's numbers for those positions.
struct Coeffs {
    int ksize = 0;
    std::vector<int> first, count;  // source window per output position
    std::vector<int32_t> k;         // count × ksize
};

Coeffs precompute(int in_size, int64_t out_size, int64_t out0, int count, const Filter& f) {
    // Pillow: scale = (double)(in1 - in0) / outSize with float box coordinates (exact here).
    double scale = double(float(in_size)) / double(out_size);
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f.support * filterscale;
    Coeffs c;
    c.ksize = int(std::ceil(support)) * 2 + 1;
    c.first.resize(size_t(count));
    c.count.resize(size_t(count));
    c.k.assign(size_t(count) * size_t(c.ksize), 0);
    std::vector<double> w(size_t(c.ksize));
    for (int i = 0; i < count; ++i) {
        double center = (double(out0 + i) + 0.5) * scale;
        double ss = 1.0 / filterscale;
        int xmin = int(center - support + 0.5);  // truncation, as Pillow's (int) cast
        if (xmin < 0) xmin = 0;
        int xmax = int(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            double v = f.fn((x + xmin - center + 0.5) * ss);
            w[size_t(x)] = v;
            ww += v;
        }
        int32_t* k = &c.k[size_t(i) * size_t(c.ksize)];
        for (int x = 0; x < xmax; ++x) {
            double v = ww != 0.0 ? w[size_t(x)] / ww : w[size_t(x)];
            k[x] = v < 0 ? int32_t(-0.5 + v * (1 << kPrecisionBits)) : int32_t(0.5 + v * (1 << kPrecisionBits));
        }
        c.first[size_t(i)] = xmin;
        c.count[size_t(i)] = xmax;
    }
    return c;
}

inline uint8_t clip8(int32_t v) {
    int32_t s = v >> kPrecisionBits;  // arithmetic shift: floor, as Pillow's lookup-table index
    return uint8_t(s < 0 ? 0 : s > 255 ? 255 : s);
}

// One horizontal pass: `rows` rows of `in` (RGB, row stride in_stride; column 0 of `in` is source
// column in_col0) to the output columns whose windows `c` holds.
void horizontal_pass(const uint8_t* in, size_t in_stride, int rows, int in_col0, const Coeffs& c, uint8_t* out,
                     size_t out_stride) {
    const int nw = int(c.first.size());
    for (int y = 0; y < rows; ++y) {
        const uint8_t* row = in + size_t(y) * in_stride;
        uint8_t* o = out + size_t(y) * out_stride;
        for (int x = 0; x < nw; ++x) {
            const int32_t* k = &c.k[size_t(x) * size_t(c.ksize)];
            const uint8_t* p = row + size_t(c.first[size_t(x)] - in_col0) * 3;
            int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
            for (int i = 0, n = c.count[size_t(x)]; i < n; ++i) {
                s0 += p[3 * i] * k[i];
                s1 += p[3 * i + 1] * k[i];
                s2 += p[3 * i + 2] * k[i];
            }
            o[3 * x] = clip8(s0);
            o[3 * x + 1] = clip8(s1);
            o[3 * x + 2] = clip8(s2);
        }
    }
}

// One vertical pass: output row y of `out` from the rows of `in` that `c` names (row 0 of `in` is
// source row in_row0); `bytes` bytes per row are filtered independently.
void vertical_pass(const uint8_t* in, size_t in_stride, int in_row0, size_t bytes, const Coeffs& c, uint8_t* out,
                   size_t out_stride) {
    const int nh = int(c.first.size());
    for (int y = 0; y < nh; ++y) {
        const int32_t* k = &c.k[size_t(y) * size_t(c.ksize)];
        const uint8_t* base = in + size_t(c.first[size_t(y)] - in_row0) * in_stride;
        const int n = c.count[size_t(y)];
        uint8_t* o = out + size_t(y) * out_stride;
        for (size_t x = 0; x < bytes; ++x) {
            int32_t s = 1 << (kPrecisionBits - 1);
            for (int i = 0; i < n; ++i) s += base[size_t(i) * in_stride + x] * k[i];
            o[x] = clip8(s);
        }
    }
}

// Rows [y0, y0 + nh) × columns [x0, x0 + nw) of PIL's resize of `src` to out_w × out_h, all inside
// the output image, written to dst (nh × nw × 3, packed).
void resize_window(const Image& src, int64_t out_w, int64_t out_h, Resample r, int64_t x0, int nw, int64_t y0,
                   int nh, uint8_t* dst) {
    if (nw <= 0 || nh <= 0) return;
    const int sw = src.width, sh = src.height;
    if (r == Resample::Nearest) {
        if (out_w == sw && out_h == sh) {
            for (int y = 0; y < nh; ++y)
                std::memcpy(dst + size_t(y) * size_t(nw) * 3, src.row(int(y0 + y)) + size_t(x0) * 3, size_t(nw) * 3);
            return;
        }
        // Pillow maps nearest through its affine "scale" transform: the source coordinate starts at
        // half a step and is advanced by repeated addition (the accumulated rounding decides ties).
        double ax = double(float(sw)) / double(out_w), ay = double(float(sh)) / double(out_h);
        auto coord = [](double v) { return v < 0.0 ? -1 : int(v); };
        std::vector<int> xin(static_cast<size_t>(nw));
        double xo = ax * 0.5;
        for (int64_t x = 0; x < x0 + nw; ++x) {
            if (x >= x0) xin[size_t(x - x0)] = coord(xo);
            xo += ax;
        }
        double yo = ay * 0.5;
        for (int64_t y = 0; y < y0 + nh; ++y) {
            if (y >= y0) {
                int yi = coord(yo);
                uint8_t* out = dst + size_t(y - y0) * size_t(nw) * 3;
                for (int x = 0; x < nw; ++x) {
                    int xi = xin[size_t(x)];
                    if (yi >= 0 && yi < sh && xi >= 0 && xi < sw) {
                        std::memcpy(out + size_t(x) * 3, src.row(yi) + size_t(xi) * 3, 3);
                    } else {
                        std::memset(out + size_t(x) * 3, 0, 3);  // Pillow's fill; unreachable in practice
                    }
                }
            }
            yo += ay;
        }
        return;
    }

    const Filter f = filter_for(r);
    const bool need_h = out_w != sw, need_v = out_h != sh;  // Pillow skips an unchanged dimension
    // Pillow 13 (PR #9549) runs the vertical pass first when the height shrinks by more than twice
    // as many pixels as the width; Pillow <= 12.3 always went horizontal first. The two orders
    // differ by a few levels, and only for such shapes (an image more than twice as tall as wide,
    // for the eval transform's aspect-preserving resize). This follows Pillow 13.
    const bool vertical_first = need_v && (sh - out_h) > 0 && (sh - out_h) > (int64_t(sw) - out_w) * 2;

    const size_t src_stride = size_t(sw) * 3, dst_stride = size_t(nw) * 3;
    const uint8_t* src_px = src.rgb.data();
    Coeffs ch, cv;
    if (need_h) ch = precompute(sw, out_w, x0, nw, f);
    if (need_v) cv = precompute(sh, out_h, y0, nh, f);

    if (vertical_first) {
        // Source columns the horizontal pass will read.
        int64_t c0 = x0, c1 = x0 + nw;
        if (need_h) {
            c0 = ch.first[0];
            c1 = 0;
            for (int i = 0; i < nw; ++i) c1 = std::max<int64_t>(c1, ch.first[size_t(i)] + ch.count[size_t(i)]);
        }
        const int cols = int(c1 - c0);
        std::vector<uint8_t> tmp(size_t(nh) * size_t(cols) * 3);
        vertical_pass(src_px + size_t(c0) * 3, src_stride, 0, size_t(cols) * 3, cv, tmp.data(), size_t(cols) * 3);
        if (need_h) {
            horizontal_pass(tmp.data(), size_t(cols) * 3, nh, int(c0), ch, dst, dst_stride);
        } else {
            for (int y = 0; y < nh; ++y)
                std::memcpy(dst + size_t(y) * dst_stride, &tmp[size_t(y) * size_t(cols) * 3], dst_stride);
        }
        return;
    }

    // Horizontal first: only the source rows the vertical pass reads for the wanted output rows.
    int64_t r0 = y0, r1 = y0 + nh;
    if (need_v) {
        r0 = cv.first[0];
        r1 = 0;
        for (int i = 0; i < nh; ++i) r1 = std::max<int64_t>(r1, cv.first[size_t(i)] + cv.count[size_t(i)]);
    }
    const int rows = int(r1 - r0);
    std::vector<uint8_t> tmp(size_t(rows) * dst_stride);
    if (need_h) {
        horizontal_pass(src_px + size_t(r0) * src_stride, src_stride, rows, 0, ch, tmp.data(), dst_stride);
    } else {
        for (int y = 0; y < rows; ++y)
            std::memcpy(&tmp[size_t(y) * dst_stride], src.row(int(r0 + y)) + size_t(x0) * 3, dst_stride);
    }
    if (need_v) {
        vertical_pass(tmp.data(), dst_stride, int(r0), dst_stride, cv, dst, dst_stride);
    } else {
        std::memcpy(dst, tmp.data(), tmp.size());
    }
}

// Python's round() for the values timm and torchvision round: halves go to the even neighbour.
int64_t round_half_even(double v) { return int64_t(std::nearbyint(v)); }

// timm would fail (PIL refuses a 0-pixel side) or exhaust memory; pomt says why instead.
int64_t checked_size(double v, const char* what) {
    if (!(v >= 1.0)) fail(std::string("preprocess: the image is too thin: its resized ") + what + " would be 0 pixels");
    if (v > double(INT_MAX)) fail(std::string("preprocess: the image is too elongated: its resized ") + what +
                                  " would exceed 2^31 pixels");
    return int64_t(v);
}

}  // namespace

Resample parse_resample(const std::string& name) {
    if (name == "nearest") return Resample::Nearest;
    if (name == "box") return Resample::Box;
    if (name == "bilinear") return Resample::Bilinear;
    if (name == "hamming") return Resample::Hamming;
    if (name == "bicubic") return Resample::Bicubic;
    if (name == "lanczos") return Resample::Lanczos;
    fail("interpolation '" + name + "' is not supported (nearest, box, bilinear, hamming, bicubic, lanczos)");
}

Image resize_like_pil(const Image& src, int width, int height, Resample filter) {
    if (src.width <= 0 || src.height <= 0) fail("resize: empty image");
    if (width <= 0 || height <= 0) fail("resize: target size must be positive");
    Image out;
    out.width = width;
    out.height = height;
    out.rgb.resize(size_t(width) * size_t(height) * 3);
    resize_window(src, width, height, filter, 0, width, 0, height, out.rgb.data());
    return out;
}

EvalGeometry eval_geometry(int width, int height, const PreprocessConfig& cfg) {
    if (width <= 0 || height <= 0) fail("preprocess: empty image");
    if (cfg.input_size[0] != 3) fail("preprocess: input_size must have 3 channels");
    const int th = cfg.input_size[1], tw = cfg.input_size[2];
    if (th <= 0 || tw <= 0) fail("preprocess: input_size must be positive");
    if (!(cfg.crop_pct > 0) || !std::isfinite(cfg.crop_pct)) fail("preprocess: crop_pct must be positive");
    for (int c = 0; c < 3; ++c)
        if (!(cfg.std[c] != 0) || !std::isfinite(cfg.std[c]) || !std::isfinite(cfg.mean[c]))
            fail("preprocess: mean/std must be finite and std non-zero");

    EvalGeometry g;
    g.filter = parse_resample(cfg.interpolation);
    g.crop_w = tw;
    g.crop_h = th;
    // timm: scale_size = math.floor(img_size / crop_pct), per dimension.
    const double scale_h = std::floor(double(th) / cfg.crop_pct), scale_w = std::floor(double(tw) / cfg.crop_pct);
    if (scale_h < 1 || scale_w < 1) fail("preprocess: crop_pct " + std::to_string(cfg.crop_pct) + " is too large for input_size");
    const std::string& mode = cfg.crop_mode.empty() ? std::string("center") : cfg.crop_mode;
    if (mode == "center" && scale_h == scale_w) {
        // torchvision Resize(int): the short side becomes `size`, the long side int(size * long / short)
        // (true division, then truncation), aspect ratio kept.
        const int64_t size = checked_size(scale_h, "size");
        const bool w_short = width <= height;
        const int64_t shorter = w_short ? width : height, longer = w_short ? height : width;
        const int64_t new_long = checked_size(double(size * longer) / double(shorter), "long side");
        g.resize_w = w_short ? size : new_long;
        g.resize_h = w_short ? new_long : size;
    } else if (mode == "center" || mode == "border") {
        // timm ResizeKeepRatio: ratio = min (center) or max (border) of the per-side ratios,
        // each side round(side / ratio). timm builds it for non-square centre crops without
        // passing the interpolation, so that case is always bilinear.
        const double rh = double(height) / scale_h, rw = double(width) / scale_w;
        const double ratio = mode == "center" ? std::min(rh, rw) : std::max(rh, rw);
        g.resize_h = checked_size(double(round_half_even(double(height) / ratio)), "height");
        g.resize_w = checked_size(double(round_half_even(double(width) / ratio)), "width");
        if (mode == "center") g.filter = Resample::Bilinear;
        if (mode == "border")
            for (int c = 0; c < 3; ++c) {
                int64_t v = round_half_even(255.0 * cfg.mean[c]);  // timm: fill = round(255 * mean)
                g.fill[c] = uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    } else if (mode == "squash") {
        g.resize_h = checked_size(scale_h, "height");
        g.resize_w = checked_size(scale_w, "width");
    } else {
        fail("preprocess: crop_mode '" + mode + "' is not supported (center, squash, border)");
    }
    // torchvision CenterCrop: pad (left = (crop - size) // 2) when the crop is larger, otherwise
    // top = int(round((size - crop) / 2.0)) with Python's half-to-even round.
    auto offset = [](int64_t size, int crop) -> int64_t {
        if (crop > size) return -((crop - size) / 2);
        return round_half_even(double(size - crop) / 2.0);
    };
    g.crop_left = offset(g.resize_w, g.crop_w);
    g.crop_top = offset(g.resize_h, g.crop_h);
    return g;
}

Image eval_crop_rgb(const Image& img, const PreprocessConfig& cfg) {
    if (img.width <= 0 || img.height <= 0 || img.rgb.size() != size_t(img.width) * size_t(img.height) * 3)
        fail("preprocess: empty or malformed image");
    const EvalGeometry g = eval_geometry(img.width, img.height, cfg);
    Image out;
    out.width = g.crop_w;
    out.height = g.crop_h;
    out.rgb.resize(size_t(g.crop_w) * size_t(g.crop_h) * 3);
    for (size_t i = 0; i < out.rgb.size(); i += 3) std::memcpy(&out.rgb[i], g.fill, 3);

    // The part of the crop window that lies inside the resized image.
    const int64_t x0 = std::max<int64_t>(g.crop_left, 0), x1 = std::min<int64_t>(g.crop_left + g.crop_w, g.resize_w);
    const int64_t y0 = std::max<int64_t>(g.crop_top, 0), y1 = std::min<int64_t>(g.crop_top + g.crop_h, g.resize_h);
    if (x1 <= x0 || y1 <= y0) return out;
    const int nw = int(x1 - x0), nh = int(y1 - y0);
    std::vector<uint8_t> win(size_t(nw) * size_t(nh) * 3);
    resize_window(img, g.resize_w, g.resize_h, g.filter, x0, nw, y0, nh, win.data());
    for (int y = 0; y < nh; ++y)
        std::memcpy(out.row(int(y0 - g.crop_top + y)) + size_t(x0 - g.crop_left) * 3, &win[size_t(y) * size_t(nw) * 3],
                    size_t(nw) * 3);
    return out;
}

void normalize_crop(const Image& crop, const PreprocessConfig& cfg, float* out) {
    // ToTensor then Normalize, in float32 as torch does them: (v / 255 - mean) / std with mean and
    // std rounded to float32 first (torch.tensor(mean)). A table per channel gives the same bits.
    float lut[3][256];
    for (int c = 0; c < 3; ++c) {
        const float m = float(cfg.mean[c]), s = float(cfg.std[c]);
        for (int v = 0; v < 256; ++v) {
            float x = float(v) / 255.0f;
            x = x - m;
            lut[c][v] = x / s;
        }
    }
    const size_t plane = size_t(crop.width) * size_t(crop.height);
    for (size_t i = 0; i < plane; ++i)
        for (int c = 0; c < 3; ++c) out[size_t(c) * plane + i] = lut[c][crop.rgb[3 * i + size_t(c)]];
}

void preprocess_image(const Image& img, const PreprocessConfig& cfg, float* out) {
    normalize_crop(eval_crop_rgb(img, cfg), cfg, out);
}

std::vector<float> preprocess_image(const Image& img, const PreprocessConfig& cfg) {
    std::vector<float> out(size_t(3) * size_t(std::max(cfg.input_size[1], 0)) * size_t(std::max(cfg.input_size[2], 0)));
    preprocess_image(img, cfg, out.data());
    return out;
}

}  // namespace pomt
