// Errors that reach the user: one line naming the problem. The CLI prints it and exits with 2.
#pragma once
#include <stdexcept>
#include <string>

namespace pomt {

// `text` with control characters written as escapes (\n, \r, \t, \xNN), so user-supplied text
// quoted in a message (a file name, a JSON key, a spec) cannot break it over several lines.
inline std::string one_line(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7F) {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += char(c);
        }
    }
    return out;
}

// Every message is made one line here, whatever it quotes.
struct Error : std::runtime_error {
    explicit Error(const std::string& message) : std::runtime_error(one_line(message)) {}
    explicit Error(const char* message) : std::runtime_error(one_line(message)) {}
};

[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }

}  // namespace pomt
