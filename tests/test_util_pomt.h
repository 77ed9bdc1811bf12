// Reading and rewriting a .pomt file's bytes by docs/FORMAT.md alone, not through the library's
// writer: the header, where the data starts, a header edit, and the version 1 files pomt reads but
// no longer writes. Apart from test_util.cpp (no doctest) so fuzz/make_seeds.cpp links it too.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "core/json.h"

namespace pomt_test {

// Its header length H, its JSON header, where its data starts, and the same file with the header
// rebuilt after `edit` (data kept, re-aligned).
uint64_t header_len(const std::string& pomt_bytes);
pomt::json::Value header_of(const std::string& pomt_bytes);
uint64_t data_start(const std::string& pomt_bytes);
std::string with_header(const std::string& pomt_bytes, const std::function<void(pomt::json::Value&)>& edit);

// A version 2 (fp32) file as the version 1 file older pomt wrote for the same model (docs/FORMAT.md,
// "Version 2: what changed from version 1"): version 1 in the preamble and the header, each
// "panels16" Linear weight unpacked to C order by the format's formula, its "layout" key dropped and
// nbytes 4 × numel, the offsets laid out again. Throws pomt::Error on anything but a version 2 file.
std::string as_format_v1(const std::string& v2_bytes);

}  // namespace pomt_test
