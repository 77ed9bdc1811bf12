// A small strict JSON reader/writer for config.json, safetensors headers, .pomt headers and
// schedule files. Objects keep their key order; nesting depth and value count are bounded so
// hostile input cannot exhaust the stack or the memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pomt {
namespace json {

enum class Type { Null, Bool, Number, String, Array, Object };

class Value {
public:
    Value() = default;
    static Value boolean(bool b);
    static Value number(double d);
    static Value string(std::string s);
    static Value array();
    static Value object();

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::Null; }
    bool is_bool() const { return type_ == Type::Bool; }
    bool is_number() const { return type_ == Type::Number; }
    bool is_string() const { return type_ == Type::String; }
    bool is_array() const { return type_ == Type::Array; }
    bool is_object() const { return type_ == Type::Object; }

    // Typed access; throws pomt::Error naming `what` on a type mismatch.
    bool as_bool(const std::string& what) const;
    double as_number(const std::string& what) const;
    int64_t as_int(const std::string& what) const;  // must be integral and within ±2^53
    const std::string& as_string(const std::string& what) const;
    const std::vector<Value>& as_array(const std::string& what) const;
    const std::vector<std::pair<std::string, Value>>& as_object(const std::string& what) const;

    // Object lookup: null pointer when absent (or when this is not an object).
    const Value* find(const std::string& key) const;

    // Builders.
    void push_back(Value v);
    void set(const std::string& key, Value v);  // replaces an existing key, keeps order
    void append(std::string key, Value v);      // no duplicate check (the parser checks)

    // Compact serialisation, keys in insertion order; numbers in shortest round-trip form.
    std::string dump() const;

private:
    Type type_ = Type::Null;
    bool b_ = false;
    double d_ = 0;
    std::string s_;
    std::vector<Value> a_;
    std::vector<std::pair<std::string, Value>> o_;
};

// A parsed value costs ~100 bytes while "0," costs 2 bytes of text, so the value count is capped:
// a 64 MB .pomt header of zeros would otherwise need over 3 GB. A ViT-Huge safetensors header
// holds ~30 000 values and an ImageNet-21k .pomt header ~25 000.
constexpr size_t kMaxValues = 1000000;

// Parses a complete JSON text; throws pomt::Error("<what>: ...") on malformed input, nesting deeper
// than 64 or more than kMaxValues values.
Value parse(const std::string& text, const std::string& what);

// Integers (|d| < 2^53) as plain integers; other numbers in the shortest "%.{p}g" form that reads
// back to the same double (docs/FORMAT.md states the rule for .pomt headers).
std::string format_number(double d);

}  // namespace json
}  // namespace pomt
