// --tokens START:END:STEP, shared by the commands that sweep token counts (profile, schedule).
#pragma once
#include <string>
#include <vector>

namespace pomt {

struct TokenRange {
    int start, end, step;
    std::vector<int> counts() const;
};

// Parses "START:END:STEP" (any part may be empty: the model's range, step 1) or a single count;
// checks it against [lowest, highest]. Throws pomt::Error (one line) for an empty, reversed or
// out-of-range request.
TokenRange parse_token_range(const std::string& text, int lowest, int highest);

}  // namespace pomt
