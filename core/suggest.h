// "Did you mean ...?": the names closest to a mistyped one (an architecture, a command-line option),
// so a message can offer them instead of only refusing.
#pragma once
#include <string>
#include <vector>

namespace pomt {

// Levenshtein distance (insertions, deletions, substitutions; bytes, not characters).
size_t edit_distance(const std::string& a, const std::string& b);

// Up to `max_count` of `candidates` close to `name`, closest first (ties in candidate order). A
// candidate's score is its edit distance to `name`, or that of its first name.size() characters plus
// one (the name typed as an abbreviation: "vit_tiny" for "vit_tiny_patch16_224"); it is close when
// the score is at most a third of name.size() (at least 2), below name.size(), and at most 2 above
// the closest one's. Empty for a name longer than 100 bytes, whose distances would cost more than a
// message is worth.
std::vector<std::string> nearest_names(const std::string& name, const std::vector<std::string>& candidates,
                                       int max_count = 3);

// "a", "a or b", "a, b or c": names for a message.
std::string or_list(const std::vector<std::string>& names);

}  // namespace pomt
