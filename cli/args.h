// Command-line parsing for the pomt subcommands: declared options only, every value validated,
// every problem a pomt::Error (one line, exit code 2).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace pomt {

class Args {
public:
    // `value_options` take a value (--threads 4 or --threads=4); `flag_options` do not. Commands
    // whose value options include -m also take --max-memory SIZE.
    Args(int argc, char** argv, int first, const std::vector<std::string>& value_options,
         const std::vector<std::string>& flag_options);

    bool has(const std::string& name) const { return values_.count(name) || flags_.count(name); }
    std::string get(const std::string& name, const std::string& fallback = "") const;
    // Integer option within [lo, hi]; `fallback` when absent.
    int get_int(const std::string& name, int fallback, int lo, int hi) const;
    const std::vector<std::string>& positional() const { return positional_; }

private:
    std::map<std::string, std::string> values_;
    std::map<std::string, bool> flags_;
    std::vector<std::string> positional_;
};

int parse_int(const std::string& text, const std::string& what, int lo, int hi);

}  // namespace pomt
