#include "image/token_picture.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "image/bitmap_font.h"
#include "pomt/error.h"

namespace pomt {

namespace {

enum class PatchState { Kept, Dropped, PomtMerged, Grouped };

// "1 class token", "4 register tokens", ... and whether the run kept them.
std::string prefix_legend(const ModelConfig& c, const TokenProvenance& prov, int image) {
    std::vector<std::string> names;
    if (c.class_token) names.push_back("class");
    if (c.distilled) names.push_back("dist");
    if (c.reg_tokens) names.push_back(std::to_string(c.reg_tokens) + (c.reg_tokens == 1 ? " register" : " registers"));
    if (names.empty()) return "no prefix token";
    std::string s;
    for (size_t i = 0; i < names.size(); ++i) s += (i ? (i + 1 == names.size() ? " + " : ", ") : "") + names[i];
    bool all_kept = true;
    for (int t = 0; t < prov.prefix; ++t) all_kept = all_kept && prov.row[size_t(image) * prov.tokens + t] >= 0;
    return "prefix: " + s + (all_kept ? " kept" : " not all kept");
}

// The legend items packed into lines of at most `chars` characters.
std::vector<std::string> wrap(const std::vector<std::string>& items, size_t chars) {
    std::vector<std::string> lines;
    for (const std::string& item : items) {
        if (!lines.empty() && lines.back().size() + 2 + item.size() <= chars) lines.back() += "  " + item;
        else lines.push_back(item);
    }
    return lines;
}

}  // namespace

Image denormalize_input(const float* input, int height, int width, const PreprocessConfig& pre) {
    Image img;
    img.width = width;
    img.height = height;
    img.rgb.resize(size_t(width) * height * 3);
    const size_t plane = size_t(width) * height;
    for (size_t i = 0; i < plane; ++i)
        for (int c = 0; c < 3; ++c) {
            const double v = std::round(255.0 * (double(input[size_t(c) * plane + i]) * pre.std[c] + pre.mean[c]));
            img.rgb[3 * i + size_t(c)] = uint8_t(std::min(255.0, std::max(0.0, v)));
        }
    return img;
}

TokenPictureParts draw_token_picture(const float* input, const PreprocessConfig& pre, const ModelConfig& c,
                                     const TokenProvenance& prov, int image) {
    const int grid = c.grid(), ps = c.patch_size, H = c.img_size, W = c.img_size, prefix = c.num_prefix_tokens();
    if (prov.tokens != c.num_tokens() || prov.prefix != prefix || image < 0 || image >= prov.batch)
        fail("token picture: the provenance is not of this model's run");
    const Image crop = denormalize_input(input, H, W, pre);

    // Each patch's state; the final tokens of ≥ 2 patches that POMT did not merge are ToMe groups.
    const int* row = prov.row.data() + size_t(image) * prov.tokens;
    const uint8_t* pomt = prov.pomt_merged.data() + size_t(image) * prov.tokens;
    const int P = c.num_patches();
    std::map<int, std::vector<int>> members;  // final row → its (non-POMT) patches
    for (int p = 0; p < P; ++p)
        if (row[prefix + p] >= 0 && !pomt[prefix + p]) members[row[prefix + p]].push_back(p);
    std::vector<PatchState> state(size_t(P), PatchState::Kept);
    std::vector<int> group(size_t(P), -1);
    std::vector<std::array<uint8_t, 3>> group_colour;
    TokenCounts n;
    n.tokens_before = prov.tokens;
    n.tokens_after = prov.current_tokens;
    n.patches = P;
    for (int p = 0; p < P; ++p) {
        if (row[prefix + p] < 0) state[size_t(p)] = PatchState::Dropped, ++n.dropped;
        else if (pomt[prefix + p]) state[size_t(p)] = PatchState::PomtMerged, ++n.pomt_merged;
    }
    for (const auto& kv : members) {
        if (kv.second.size() < 2) {
            ++n.kept;
            continue;
        }
        // The group's colour: the mean of its patches' pixels, rounded.
        double sum[3] = {0, 0, 0};
        for (int p : kv.second) {
            state[size_t(p)] = PatchState::Grouped;
            group[size_t(p)] = int(group_colour.size());
            for (int y = 0; y < ps; ++y)
                for (int x = 0; x < ps; ++x) {
                    const uint8_t* px = crop.row((p / grid) * ps + y) + ((p % grid) * ps + x) * 3;
                    for (int ch = 0; ch < 3; ++ch) sum[ch] += px[ch];
                }
        }
        const double count = double(kv.second.size()) * ps * ps;
        std::array<uint8_t, 3> colour;
        for (int ch = 0; ch < 3; ++ch) colour[size_t(ch)] = uint8_t(std::lround(sum[ch] / count));
        group_colour.push_back(colour);
        ++n.tome_groups;
        n.tome_grouped += int(kv.second.size());
    }

    // The legend, wrapped to the picture's width.
    std::vector<std::string> items = {
        prefix_legend(c, prov, image),
        "tokens " + std::to_string(n.tokens_before) + " -> " + std::to_string(n.tokens_after),
        std::to_string(n.kept) + " patches kept"};
    if (n.dropped) items.push_back(std::to_string(n.dropped) + " dropped (dimmed)");
    if (n.pomt_merged) items.push_back(std::to_string(n.pomt_merged) + " merged by pomt (hatched)");
    if (n.tome_groups)
        items.push_back(std::to_string(n.tome_grouped) + " in " + std::to_string(n.tome_groups) +
                        " tome groups (mean colour)");
    TokenPictureParts out;
    for (const std::string& item : items) out.legend += (out.legend.empty() ? "" : "; ") + item;
    const std::vector<std::string> lines = wrap(items, size_t(std::max(1, (W - 4) / kGlyphAdvance)));
    const int line_height = kGlyphHeight + 3, strip = int(lines.size()) * line_height + 3;

    Image& pic = out.picture;
    pic.width = W;
    pic.height = H + strip;
    pic.rgb.assign(size_t(pic.width) * pic.height * 3, 24);  // the strip's dark background
    out.input_height = H;
    out.counts = n;
    auto group_of = [&](int x, int y) {
        if (x < 0 || y < 0 || x >= W || y >= H) return -1;
        return group[size_t((y / ps) * grid + x / ps)];
    };
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
            const uint8_t* src = crop.row(y) + size_t(x) * 3;
            uint8_t* dst = pic.row(y) + size_t(x) * 3;
            const int p = (y / ps) * grid + x / ps;
            switch (state[size_t(p)]) {
                case PatchState::Kept:
                    for (int ch = 0; ch < 3; ++ch) dst[ch] = src[ch];
                    break;
                case PatchState::Dropped:
                    for (int ch = 0; ch < 3; ++ch) dst[ch] = dim_pixel(src[ch]);
                    break;
                case PatchState::PomtMerged:
                    for (int ch = 0; ch < 3; ++ch)
                        dst[ch] = pomt_hatch_at(x, y) ? kPomtHatch[ch] : dim_pixel(src[ch]);
                    break;
                case PatchState::Grouped: {
                    const int g = group[size_t(p)];
                    const bool edge = group_of(x - 1, y) != g || group_of(x + 1, y) != g || group_of(x, y - 1) != g ||
                                      group_of(x, y + 1) != g;
                    const std::array<uint8_t, 3>& colour = group_colour[size_t(g)];
                    for (int ch = 0; ch < 3; ++ch)
                        dst[ch] = uint8_t(edge ? colour[size_t(ch)] / 2 : colour[size_t(ch)]);
                    break;
                }
            }
        }
    const uint8_t white[3] = {235, 235, 235};
    for (size_t i = 0; i < lines.size(); ++i)
        draw_text(pic.rgb.data(), pic.width, pic.height, 2, H + 3 + int(i) * line_height, lines[i], white);
    return out;
}

}  // namespace pomt
