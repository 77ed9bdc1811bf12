#include "core/memory_limit.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "pomt/error.h"

namespace pomt {
namespace {

uint64_t half_physical_memory() {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0) return uint64_t(4) << 30;
    return uint64_t(pages) * uint64_t(page) / 2;
}

std::atomic<uint64_t> g_limit{0};  // 0: not set

}  // namespace

uint64_t default_memory_limit() {
    const uint64_t set = g_limit.load(std::memory_order_relaxed);
    return set ? set : half_physical_memory();
}

void set_default_memory_limit(uint64_t bytes) { g_limit.store(bytes, std::memory_order_relaxed); }

uint64_t parse_memory_size(const std::string& text, const std::string& what) {
    auto bad = [&] {
        fail(what + " must be a size such as 512M, 2G or 1073741824, got '" + text + "'");
    };
    if (text.empty() || !(text[0] >= '0' && text[0] <= '9')) bad();
    errno = 0;
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (errno == ERANGE || !std::isfinite(value)) bad();
    std::string unit(end);
    for (char& c : unit) c = char(c >= 'A' && c <= 'Z' ? c + 32 : c);
    if (unit.size() == 3 && unit.compare(1, 2, "ib") == 0) unit.resize(1);  // 2GiB
    else if (!unit.empty() && unit.back() == 'b') unit.pop_back();           // 2GB, 100B
    int shift = 0;
    if (unit == "k") shift = 10;
    else if (unit == "m") shift = 20;
    else if (unit == "g") shift = 30;
    else if (unit == "t") shift = 40;
    else if (!unit.empty()) bad();
    const double bytes = std::ldexp(value, shift);
    if (bytes >= 18446744073709551615.0) bad();
    if (bytes < 1) fail(what + " must be at least 1 byte, got '" + text + "'");
    return uint64_t(bytes);
}

std::string format_bytes(uint64_t bytes) {
    static const char* const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) return std::to_string(bytes) + " bytes";
    double v = double(bytes) / 1024;
    int u = 0;
    while (v >= 1024 && u < 5) v /= 1024, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

void check_memory_limit(uint64_t needed, uint64_t limit, const std::string& needs) {
    if (needed > limit)
        fail(needs + " needs " + format_bytes(needed) + ", above the memory limit of " + format_bytes(limit) +
             " (--max-memory)");
}

}  // namespace pomt
