#include "core/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "pomt/error.h"

namespace pomt {
namespace json {

Value Value::boolean(bool b) {
    Value v;
    v.type_ = Type::Bool;
    v.b_ = b;
    return v;
}
Value Value::number(double d) {
    Value v;
    v.type_ = Type::Number;
    v.d_ = d;
    return v;
}
Value Value::string(std::string s) {
    Value v;
    v.type_ = Type::String;
    v.s_ = std::move(s);
    return v;
}
Value Value::array() {
    Value v;
    v.type_ = Type::Array;
    return v;
}
Value Value::object() {
    Value v;
    v.type_ = Type::Object;
    return v;
}

static const char* type_name(Type t) {
    switch (t) {
        case Type::Null: return "null";
        case Type::Bool: return "a boolean";
        case Type::Number: return "a number";
        case Type::String: return "a string";
        case Type::Array: return "an array";
        case Type::Object: return "an object";
    }
    return "?";
}

static void expect(Type have, Type want, const std::string& what) {
    if (have != want) fail(what + " is " + type_name(have) + ", expected " + type_name(want));
}

bool Value::as_bool(const std::string& what) const {
    expect(type_, Type::Bool, what);
    return b_;
}
double Value::as_number(const std::string& what) const {
    expect(type_, Type::Number, what);
    return d_;
}
int64_t Value::as_int(const std::string& what) const {
    expect(type_, Type::Number, what);
    if (!(std::fabs(d_) <= 9007199254740992.0) || d_ != std::floor(d_)) fail(what + " must be an integer");
    return int64_t(d_);
}
const std::string& Value::as_string(const std::string& what) const {
    expect(type_, Type::String, what);
    return s_;
}
const std::vector<Value>& Value::as_array(const std::string& what) const {
    expect(type_, Type::Array, what);
    return a_;
}
const std::vector<std::pair<std::string, Value>>& Value::as_object(const std::string& what) const {
    expect(type_, Type::Object, what);
    return o_;
}

const Value* Value::find(const std::string& key) const {
    if (type_ != Type::Object) return nullptr;
    for (const auto& kv : o_)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

void Value::push_back(Value v) { a_.push_back(std::move(v)); }

void Value::set(const std::string& key, Value v) {
    for (auto& kv : o_)
        if (kv.first == key) {
            kv.second = std::move(v);
            return;
        }
    o_.emplace_back(key, std::move(v));
}

void Value::append(std::string key, Value v) { o_.emplace_back(std::move(key), std::move(v)); }

std::string format_number(double d) {
    if (!std::isfinite(d)) fail("cannot write a non-finite number to JSON");
    char buf[40];
    if (d == std::floor(d) && std::fabs(d) < 9007199254740992.0) {  // integers print as integers
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
        return buf;
    }
    for (int p = 1; p <= 17; ++p) {
        std::snprintf(buf, sizeof buf, "%.*g", p, d);
        if (std::strtod(buf, nullptr) == d) break;
    }
    return buf;
}

static void dump_string(const std::string& s, std::string& out) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += char(c);
                }
        }
    }
    out += '"';
}

static void dump_value(const Value& v, std::string& out) {
    switch (v.type()) {
        case Type::Null: out += "null"; break;
        case Type::Bool: out += v.as_bool("") ? "true" : "false"; break;
        case Type::Number: out += format_number(v.as_number("")); break;
        case Type::String: dump_string(v.as_string(""), out); break;
        case Type::Array: {
            out += '[';
            bool first = true;
            for (const Value& e : v.as_array("")) {
                if (!first) out += ',';
                first = false;
                dump_value(e, out);
            }
            out += ']';
            break;
        }
        case Type::Object: {
            out += '{';
            bool first = true;
            for (const auto& kv : v.as_object("")) {
                if (!first) out += ',';
                first = false;
                dump_string(kv.first, out);
                out += ':';
                dump_value(kv.second, out);
            }
            out += '}';
            break;
        }
    }
}

std::string Value::dump() const {
    std::string out;
    dump_value(*this, out);
    return out;
}

namespace {

constexpr int kMaxDepth = 64;

class Parser {
public:
    Parser(const std::string& text, const std::string& what) : t_(text), what_(what) {}

    Value parse_document() {
        Value v = parse_value(0);
        skip_ws();
        if (i_ != t_.size()) error("unexpected data after the JSON value");
        return v;
    }

private:
    [[noreturn]] void error(const std::string& msg) {
        fail(what_ + ": malformed JSON at byte " + std::to_string(i_) + ": " + msg);
    }
    void skip_ws() {
        while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
    }
    bool consume(const char* lit) {
        size_t n = std::strlen(lit);
        if (t_.compare(i_, n, lit) == 0) {
            i_ += n;
            return true;
        }
        return false;
    }

    Value parse_value(int depth) {
        if (depth > kMaxDepth) error("nested too deeply");
        if (++values_ > kMaxValues)
            fail(what_ + ": JSON has more than " + std::to_string(kMaxValues) + " values (the reader's limit)");
        skip_ws();
        if (i_ >= t_.size()) error("unexpected end of input");
        char c = t_[i_];
        if (c == '{') return parse_object(depth);
        if (c == '[') return parse_array(depth);
        if (c == '"') return Value::string(parse_string());
        if (consume("true")) return Value::boolean(true);
        if (consume("false")) return Value::boolean(false);
        if (consume("null")) return Value();
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
        // Python's json.dumps writes these for non-finite floats; accept them as numbers on read.
        if (consume("NaN")) return Value::number(NAN);
        if (consume("Infinity")) return Value::number(INFINITY);
        error(std::string("unexpected character '") + c + "'");
    }

    Value parse_number() {
        size_t start = i_;
        if (t_[i_] == '-') ++i_;
        if (consume("Infinity")) return Value::number(-INFINITY);
        auto digits = [&] {
            size_t s = i_;
            while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
            return i_ - s;
        };
        if (digits() == 0) error("malformed number");
        if (i_ < t_.size() && t_[i_] == '.') {
            ++i_;
            if (digits() == 0) error("malformed number");
        }
        if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
            ++i_;
            if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
            if (digits() == 0) error("malformed number");
        }
        std::string s = t_.substr(start, i_ - start);
        return Value::number(std::strtod(s.c_str(), nullptr));
    }

    static void append_utf8(uint32_t cp, std::string& out) {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }

    uint32_t parse_hex4() {
        if (i_ + 4 > t_.size()) error("truncated \\u escape");
        uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            char h = t_[i_++];
            v <<= 4;
            if (h >= '0' && h <= '9') v |= uint32_t(h - '0');
            else if (h >= 'a' && h <= 'f') v |= uint32_t(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') v |= uint32_t(h - 'A' + 10);
            else error("bad \\u escape");
        }
        return v;
    }

    std::string parse_string() {
        ++i_;  // opening quote
        std::string out;
        for (;;) {
            if (i_ >= t_.size()) error("unterminated string");
            unsigned char c = static_cast<unsigned char>(t_[i_++]);
            if (c == '"') return out;
            if (c < 0x20) error("control character in string");
            if (c != '\\') {
                out += char(c);
                continue;
            }
            if (i_ >= t_.size()) error("unterminated string");
            char e = t_[i_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = parse_hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && t_.compare(i_, 2, "\\u") == 0) {
                        i_ += 2;
                        uint32_t lo = parse_hex4();
                        if (lo < 0xDC00 || lo > 0xDFFF) error("bad surrogate pair");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    append_utf8(cp, out);
                    break;
                }
                default: error("bad escape");
            }
        }
    }

    Value parse_array(int depth) {
        ++i_;
        Value arr = Value::array();
        skip_ws();
        if (i_ < t_.size() && t_[i_] == ']') {
            ++i_;
            return arr;
        }
        for (;;) {
            arr.push_back(parse_value(depth + 1));
            skip_ws();
            if (i_ >= t_.size()) error("unterminated array");
            char c = t_[i_++];
            if (c == ']') return arr;
            if (c != ',') error("expected ',' or ']'");
        }
    }

    Value parse_object(int depth) {
        ++i_;
        Value obj = Value::object();
        std::unordered_set<std::string> seen;  // duplicate keys in O(1): headers may hold thousands
        skip_ws();
        if (i_ < t_.size() && t_[i_] == '}') {
            ++i_;
            return obj;
        }
        for (;;) {
            skip_ws();
            if (i_ >= t_.size() || t_[i_] != '"') error("expected a string key");
            std::string key = parse_string();
            if (!seen.insert(key).second) error("duplicate key '" + key + "'");
            skip_ws();
            if (i_ >= t_.size() || t_[i_] != ':') error("expected ':'");
            ++i_;
            obj.append(std::move(key), parse_value(depth + 1));
            skip_ws();
            if (i_ >= t_.size()) error("unterminated object");
            char c = t_[i_++];
            if (c == '}') return obj;
            if (c != ',') error("expected ',' or '}'");
        }
    }

    const std::string& t_;
    std::string what_;
    size_t i_ = 0;
    size_t values_ = 0;
};

}  // namespace

Value parse(const std::string& text, const std::string& what) { return Parser(text, what).parse_document(); }

}  // namespace json
}  // namespace pomt
