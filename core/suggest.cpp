#include "core/suggest.h"

#include <algorithm>

namespace pomt {

size_t edit_distance(const std::string& a, const std::string& b) {
    // One row of the dynamic-programming table at a time.
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t above = row[j];
            row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::vector<std::string> nearest_names(const std::string& name, const std::vector<std::string>& candidates,
                                       int max_count) {
    if (name.empty() || name.size() > 100 || max_count <= 0) return {};
    struct Scored {
        size_t score, index;
    };
    std::vector<Scored> close;
    for (size_t i = 0; i < candidates.size(); ++i) {
        const std::string& c = candidates[i];
        size_t score = edit_distance(name, c);
        // A prefix match costs one more than an exact one, so "vit_tiny_patch16_22" prefers the name it misspells.
        if (c.size() > name.size()) score = std::min(score, edit_distance(name, c.substr(0, name.size())) + 1);
        if (score <= std::max<size_t>(2, name.size() / 3) && score < name.size()) close.push_back({score, i});
    }
    std::stable_sort(close.begin(), close.end(), [](const Scored& x, const Scored& y) { return x.score < y.score; });
    std::vector<std::string> out;
    for (const Scored& s : close) {
        // Only those nearly as close as the closest: "vit_base_patch14_dino" is vit_base_patch14_dinov2
        // (1), not vit_base_patch16_224 (5).
        if (int(out.size()) == max_count || s.score > close[0].score + 2) break;
        if (std::find(out.begin(), out.end(), candidates[s.index]) == out.end()) out.push_back(candidates[s.index]);
    }
    return out;
}

std::string or_list(const std::vector<std::string>& names) {
    std::string out;
    for (size_t i = 0; i < names.size(); ++i) {
        if (i) out += i + 1 == names.size() ? " or " : ", ";
        out += names[i];
    }
    return out;
}

}  // namespace pomt
