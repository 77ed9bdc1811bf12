#include "cli/args.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

#include "core/memory_limit.h"
#include "core/suggest.h"
#include "pomt/error.h"

namespace pomt {

namespace {

constexpr size_t kWidth = 100;        // help text columns
constexpr size_t kOptionColumn = 28;  // where an option's description starts in `pomt COMMAND --help`

const OptionSpec* find_option(const CommandSpec& command, const std::string& name) {
    for (const OptionSpec& o : command.options)
        if (name == o.name || (o.alias && name == o.alias)) return &o;
    return nullptr;
}

// A leading '-' makes an option, except a negative number and "-" alone, which are operands (a value
// option takes the next argument whatever it is, so --alpha -1 reaches its range check).
bool looks_like_option(const std::string& a) { return a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9'); }

std::string spelled(const OptionSpec& o) { return o.alias ? std::string(o.name) + "/" + o.alias : o.name; }

std::string with_value(const OptionSpec& o) { return o.value ? std::string(o.name) + " " + o.value : o.name; }

// `words` joined by spaces, a new line (indented by `indent`) before a word that would pass `width`.
std::string wrap(const std::vector<std::string>& words, size_t first_column, size_t indent, size_t width) {
    std::string out;
    size_t column = first_column;
    for (size_t i = 0; i < words.size(); ++i) {
        if (i && column + 1 + words[i].size() > width) {
            out += "\n" + std::string(indent, ' ');
            column = indent;
        } else if (i) {
            out += ' ';
            ++column;
        }
        out += words[i];
        column += words[i].size();
    }
    return out;
}

std::vector<std::string> split_words(const std::string& text) {
    std::vector<std::string> words;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find(' ', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) words.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return words;
}

}  // namespace

int parse_int(const std::string& text, const std::string& what, int lo, int hi) {
    errno = 0;
    char* end = nullptr;
    long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE) fail(what + " must be an integer, got '" + text + "'");
    if (v < lo || v > hi)
        fail(what + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + text);
    return int(v);
}

Args::Args(int argc, char** argv, int first, const CommandSpec& command) : command_(&command) {
    const std::string see = "pomt " + std::string(command.name) + " --help";
    // Help first, so it wins over any other problem on the line; a value option's value is skipped
    // whatever it looks like (--labels -h names a file).
    for (int i = first; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") break;
        if (a == "-h" || a == "--help") {
            help_ = true;
            return;
        }
        const OptionSpec* o = looks_like_option(a) ? find_option(command, a) : nullptr;
        if (o && o->value) ++i;
    }
    bool options_ended = false;
    for (int i = first; i < argc; ++i) {
        const std::string a = argv[i];
        if (options_ended || !looks_like_option(a)) {
            positional_.push_back(a);
            continue;
        }
        if (a == "--") {  // the usual end of the options: a file may then start with '-'
            options_ended = true;
            continue;
        }
        std::string name = a, value;
        const size_t eq = a.find('=');
        const bool inline_value = a.rfind("--", 0) == 0 && eq != std::string::npos;
        if (inline_value) {
            name = a.substr(0, eq);
            value = a.substr(eq + 1);
        }
        const OptionSpec* o = find_option(command, name);
        if (!o) {
            std::vector<std::string> names;
            for (const OptionSpec& k : command.options) {
                names.push_back(k.name);
                if (k.alias) names.push_back(k.alias);
            }
            const std::vector<std::string> near = nearest_names(name, names);
            fail("unknown option '" + a + "'" + (near.empty() ? "" : ": did you mean " + or_list(near) + "?") + " (" +
                 see + " lists the options)");
        }
        if (!o->value) {
            if (inline_value) fail("option " + name + " takes no value (" + see + ")");
            flags_[o->name] = true;
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= argc) fail("option " + name + " needs a value: " + name + " " + o->value);
            value = argv[++i];
        }
        if (values_.count(o->name)) fail("option " + spelled(*o) + " given twice");
        values_[o->name] = value;
    }
    if (declares("--max-memory") && has("--max-memory"))
        parse_memory_size(get("--max-memory"), "--max-memory");  // a bad value fails before any work
}

bool Args::declares(const std::string& name) const { return find_option(*command_, name) != nullptr; }

const OptionSpec& Args::declared(const std::string& name) const {
    const OptionSpec* o = find_option(*command_, name);
    if (!o)
        throw std::logic_error("pomt " + std::string(command_->name) + " asks for option " + name +
                               ", which it does not declare");
    return *o;
}

bool Args::has(const std::string& name) const {
    const OptionSpec& o = declared(name);
    return values_.count(o.name) || flags_.count(o.name);
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(declared(name).name);
    return it == values_.end() ? fallback : it->second;
}

int Args::get_int(const std::string& name, int fallback, int lo, int hi) const {
    auto it = values_.find(declared(name).name);
    return it == values_.end() ? fallback : parse_int(it->second, name, lo, hi);
}

const CommandSpec* find_command(const std::string& name) {
    for (const CommandSpec& c : commands())
        if (name == c.name) return &c;
    return nullptr;
}

std::string command_synopsis(const CommandSpec& command, size_t indent, size_t width) {
    std::vector<std::string> required, optional;
    std::vector<int> groups_done;
    for (const OptionSpec& o : command.options) {
        if (!o.group) {
            (o.required ? required : optional).push_back(o.required ? with_value(o) : "[" + with_value(o) + "]");
            continue;
        }
        if (std::find(groups_done.begin(), groups_done.end(), o.group) != groups_done.end()) continue;
        groups_done.push_back(o.group);
        std::string alternatives;
        bool any_required = false;
        for (const OptionSpec& k : command.options)
            if (k.group == o.group) {
                alternatives += (alternatives.empty() ? "" : " | ") + with_value(k);
                any_required = any_required || k.required;
            }
        (any_required ? required : optional)
            .push_back((any_required ? "(" : "[") + alternatives + (any_required ? ")" : "]"));
    }
    std::vector<std::string> words = {command.name};
    const std::vector<std::string> operands = split_words(command.operands);
    if (command.operands_first) words.insert(words.end(), operands.begin(), operands.end());
    words.insert(words.end(), required.begin(), required.end());
    if (!command.operands_first) words.insert(words.end(), operands.begin(), operands.end());
    words.insert(words.end(), optional.begin(), optional.end());
    return wrap(words, indent, indent + std::string(command.name).size() + 1, width);
}

std::string command_help(const CommandSpec& command) {
    std::string out = "usage: pomt " + command_synopsis(command, 12, kWidth) + "\n\n" +
                      wrap(split_words(command.summary), 0, 0, kWidth) + "\n";
    if (*command.details) out += std::string("\n") + command.details;
    out += "\noptions:\n";
    auto line = [&](const std::string& left, const std::string& help) {
        out += "  " + left;
        size_t column = 2 + left.size();
        if (column + 2 > kOptionColumn) {
            out += "\n";
            column = 0;
        }
        out += std::string(kOptionColumn - column, ' ');
        out += wrap(split_words(help), kOptionColumn, kOptionColumn, kWidth) + "\n";
    };
    for (const OptionSpec& o : command.options)
        line((o.alias ? std::string(o.name) + ", " + o.alias : std::string(o.name)) +
                 (o.value ? std::string(" ") + o.value : ""),
             o.help);
    line("-h, --help", "print this help and exit");
    return out;
}

std::string top_level_help() {
    std::string out =
        "usage: pomt COMMAND [options]\n"
        "       pomt COMMAND --help    every option of COMMAND, a line on each (also -h, pomt help COMMAND)\n"
        "       pomt --version         the version, and the kernels this build and this CPU run\n"
        "\n"
        "commands:\n";
    for (const CommandSpec& c : commands())
        out +=
            "  " + command_synopsis(c, 2, kWidth) + "\n" + "      " + wrap(split_words(c.summary), 6, 6, kWidth) + "\n";
    out +=
        "\n"
        "-m model.pomt: a model written by pomt convert or pomt quantize; --arch NAME instead: that timm\n"
        "  architecture with seeded random weights (latency does not depend on them; pomt info --architectures\n"
        "  lists the names). --max-memory SIZE (512M, 2G, ...) caps the activation memory a run may use;\n"
        "  default: half the physical memory.\n";
    return out;
}

}  // namespace pomt
