#include "image/pnm_header.h"

#include <climits>

namespace pomt {
namespace {

// stbi__context over memory: get8 past the end gives 0; at_eof is checked before each read.
struct Reader {
    const unsigned char* p;
    size_t n, pos = 0;
    char get8() { return char(pos < n ? p[pos++] : 0); }
    bool at_eof() const { return pos >= n; }
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

void skip_whitespace(Reader& r, char* c) {  // stbi__pnm_skip_whitespace: blanks and # comments
    for (;;) {
        while (!r.at_eof() && is_space(*c)) *c = r.get8();
        if (r.at_eof() || *c != '#') break;
        while (!r.at_eof() && *c != '\n' && *c != '\r') *c = r.get8();
    }
}

// stbi__pnm_getinteger, which computes value * 10 + digit in an int without an overflow check.
int64_t get_integer(Reader& r, char* c, bool* too_large) {
    int64_t value = 0;
    while (!r.at_eof() && *c >= '0' && *c <= '9') {
        value = value * 10 + (*c - '0');
        if (value > INT_MAX) {
            *too_large = true;
            return value;
        }
        *c = r.get8();
    }
    return value;
}

}  // namespace

bool parse_pnm_header(const unsigned char* bytes, size_t size, PnmHeader* h) {
    Reader r{bytes, size};
    const char p = r.get8(), t = r.get8();
    if (p != 'P' || (t != '5' && t != '6')) return false;
    *h = PnmHeader();
    h->channels = t == '6' ? 3 : 1;
    char c = r.get8();
    int64_t* fields[3] = {&h->width, &h->height, &h->maxval};
    for (int64_t* f : fields) {
        skip_whitespace(r, &c);
        *f = get_integer(r, &c, &h->too_large);
        if (h->too_large) return true;
    }
    h->raster = r.pos;  // the byte after the maxval digits was read into c: one whitespace byte
    return true;
}

}  // namespace pomt
