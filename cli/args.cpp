#include "cli/args.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "pomt/error.h"
#include "core/memory_limit.h"

namespace pomt {

int parse_int(const std::string& text, const std::string& what, int lo, int hi) {
    errno = 0;
    char* end = nullptr;
    long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE)
        fail(what + " must be an integer, got '" + text + "'");
    if (v < lo || v > hi)
        fail(what + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + text);
    return int(v);
}

Args::Args(int argc, char** argv, int first, const std::vector<std::string>& command_value_options,
           const std::vector<std::string>& flag_options) {
    auto known = [](const std::vector<std::string>& list, const std::string& s) {
        return std::find(list.begin(), list.end(), s) != list.end();
    };
    // Every command that runs a model (-m) takes --max-memory, read by load_model_from_args.
    std::vector<std::string> value_options = command_value_options;
    if (known(value_options, "-m")) value_options.push_back("--max-memory");
    for (int i = first; i < argc; ++i) {
        std::string a = argv[i];
        if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && (a[1] >= '0' && a[1] <= '9'))) {
            std::string name = a, value;
            bool inline_value = false;
            size_t eq = a.find('=');
            if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
                name = a.substr(0, eq);
                value = a.substr(eq + 1);
                inline_value = true;
            }
            if (known(value_options, name)) {
                if (!inline_value) {
                    if (i + 1 >= argc) fail("option " + name + " needs a value");
                    value = argv[++i];
                }
                if (values_.count(name)) fail("option " + name + " given twice");
                values_[name] = value;
            } else if (known(flag_options, name) && !inline_value) {
                flags_[name] = true;
            } else {
                fail("unknown option '" + a + "'");
            }
        } else {
            positional_.push_back(a);
        }
    }
    if (has("--max-memory")) parse_memory_size(get("--max-memory"), "--max-memory");  // a bad value fails early
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

int Args::get_int(const std::string& name, int fallback, int lo, int hi) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : parse_int(it->second, name, lo, hi);
}

}  // namespace pomt
