// Command-line parsing for the pomt subcommands. Each command declares its options once, in its
// CommandSpec (cli/command_table.cpp): Args parses against that table and `pomt COMMAND --help` is
// printed from it, so the parser and the help cannot disagree. Every problem is a pomt::Error (one
// line, exit code 2).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace pomt {

class Args;

struct OptionSpec {
    const char* name;   // "--threads", "-m"
    const char* value;  // the value's placeholder in the help ("N", "model.pomt"); nullptr: a flag
    const char* help;   // one line for `pomt COMMAND --help`
    // Options sharing a nonzero group are alternatives, shown as (a | b) or [a | b] in the synopsis.
    int group = 0;
    // Shown without brackets in the synopsis; the command itself checks that it is there (some are
    // required only in one mode, e.g. convert's -o).
    bool required = false;
    const char* alias = nullptr;  // another spelling, read as the same option ("--output" for "-o")
};

struct CommandSpec {
    const char* name;
    const char* operands;  // the positional arguments in the synopsis ("IMAGE...", "model.pomt"; "" none)
    bool operands_first;   // before the required options in the synopsis (pomt quantize model.pomt -o ...)
    const char* summary;   // one line, for `pomt --help` and the top of `pomt COMMAND --help`
    const char* details;   // more lines for `pomt COMMAND --help`, each ending in '\n' ("" none)
    std::vector<OptionSpec> options;
    int (*run)(const Args& args);
};

// Every command, in the order `pomt --help` lists them; null when `name` is none of them.
const std::vector<CommandSpec>& commands();
const CommandSpec* find_command(const std::string& name);

// `pomt COMMAND ...` in one line per option group, wrapped to `width` columns after `indent`.
std::string command_synopsis(const CommandSpec& command, size_t indent, size_t width);
// `pomt COMMAND --help`: synopsis, summary, details and every option with its line.
std::string command_help(const CommandSpec& command);
// `pomt --help`: every command's synopsis and summary.
std::string top_level_help();

class Args {
public:
    // Parses argv[first..] against `command`'s options: --name VALUE or --name=VALUE for a value
    // option, --name for a flag, anything else (not starting with '-', or a negative number)
    // positional. -h / --help anywhere an option may stand only sets help().
    Args(int argc, char** argv, int first, const CommandSpec& command);

    const CommandSpec& command() const { return *command_; }
    bool help() const { return help_; }
    // Whether the command declares `name` (shared code such as load_model_from_args asks first).
    bool declares(const std::string& name) const;
    // `name` (or its alias) must be one of the command's options: asking for another is a bug in
    // the command and throws std::logic_error, so code and table cannot drift either.
    bool has(const std::string& name) const;
    std::string get(const std::string& name, const std::string& fallback = "") const;
    // Integer option within [lo, hi]; `fallback` when absent.
    int get_int(const std::string& name, int fallback, int lo, int hi) const;
    const std::vector<std::string>& positional() const { return positional_; }

private:
    const OptionSpec& declared(const std::string& name) const;

    const CommandSpec* command_;
    bool help_ = false;
    std::map<std::string, std::string> values_;  // by the option's name (not its alias)
    std::map<std::string, bool> flags_;
    std::vector<std::string> positional_;
};

int parse_int(const std::string& text, const std::string& what, int lo, int hi);

}  // namespace pomt
