// core/suggest.h: edit distance and the "did you mean" candidates of the CLI's and the
// architecture resolver's messages.
#include "doctest/doctest.h"
#include "core/suggest.h"

using namespace pomt;

TEST_CASE("suggest: edit distance") {
    CHECK(edit_distance("", "") == 0);
    CHECK(edit_distance("abc", "") == 3);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("kitten", "sitting") == 3);
    CHECK(edit_distance("--thread", "--threads") == 1);
    CHECK(edit_distance("flaw", "lawn") == 2);
}

TEST_CASE("suggest: nearest names, abbreviations, nothing for unrelated or absurd names") {
    const std::vector<std::string> options = {"--threads", "--top", "--json", "--schedule", "--show-tokens"};
    CHECK(nearest_names("--thread", options) == std::vector<std::string>{"--threads"});
    CHECK(nearest_names("--jsno", options) == std::vector<std::string>{"--json"});
    CHECK(nearest_names("--sched", options) == std::vector<std::string>{"--schedule"});
    CHECK(nearest_names("--frobnicate", options).empty());
    CHECK(nearest_names("", options).empty());
    CHECK(nearest_names(std::string(300000, 'x'), options).empty());
    const std::vector<std::string> names = {"zz", "ab1", "ab2", "ab3"};
    CHECK(nearest_names("ab", names, 2) == std::vector<std::string>{"ab1", "ab2"});  // ties in list order
    CHECK(nearest_names("a", {"b", "ab"}).empty());  // one character: nothing is close enough to say
    CHECK(or_list({}).empty());
    CHECK(or_list({"a"}) == "a");
    CHECK(or_list({"a", "b"}) == "a or b");
    CHECK(or_list({"a", "b", "c"}) == "a, b or c");
}
