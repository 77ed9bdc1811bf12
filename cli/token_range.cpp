#include "cli/token_range.h"

#include "cli/args.h"
#include "pomt/error.h"

namespace pomt {

std::vector<int> TokenRange::counts() const {
    std::vector<int> out;
    for (int n = start; n <= end; n += step) out.push_back(n);
    return out;
}

TokenRange parse_token_range(const std::string& text, int lowest, int highest) {
    TokenRange r{lowest, highest, 1};
    if (!text.empty()) {
        size_t a = text.find(':');
        if (a == std::string::npos) {
            r.start = r.end = parse_int(text, "--tokens", 1, 1 << 20);
        } else {
            size_t b = text.find(':', a + 1);
            std::string s0 = text.substr(0, a), s1 = text.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
            if (!s0.empty()) r.start = parse_int(s0, "--tokens START", 1, 1 << 20);
            if (!s1.empty()) r.end = parse_int(s1, "--tokens END", 1, 1 << 20);
            if (b != std::string::npos) r.step = parse_int(text.substr(b + 1), "--tokens STEP", 1, 1 << 20);
        }
    }
    if (r.start > r.end) fail("--tokens range " + text + " is empty or reversed (START must be ≤ END)");
    if (r.start < lowest)
        fail("--tokens START " + std::to_string(r.start) + " is below " + std::to_string(lowest) +
             " (the prefix tokens plus one patch token)");
    if (r.end > highest)
        fail("--tokens END " + std::to_string(r.end) + " is above the model's " + std::to_string(highest) + " tokens");
    return r;
}

}  // namespace pomt
