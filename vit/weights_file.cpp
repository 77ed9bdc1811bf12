#include "vit/weights_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "kernels/gemm_bf16.h"
#include "kernels/panels.h"
#include "pomt/error.h"
#include "core/file_util.h"

namespace pomt {

namespace {

uint64_t align_up(uint64_t x) { return (x + kPomtAlignment - 1) / kPomtAlignment * kPomtAlignment; }

uint64_t numel_of(const std::vector<int64_t>& shape) {
    uint64_t n = 1;
    for (int64_t s : shape) n *= uint64_t(s);
    return n;
}

void put_u32(std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s += char((v >> (8 * i)) & 0xff);
}
void put_u64(std::string& s, uint64_t v) {
    for (int i = 0; i < 8; ++i) s += char((v >> (8 * i)) & 0xff);
}
uint64_t get_u64(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}
uint32_t get_u32(const unsigned char* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

constexpr const char* kPanelsLayoutName = "panels16";

// A Linear weight [n, …] is a GEMM matrix [n × k], k the product of the other dimensions.
int linear_rows(const TensorSpec& spec) { return int(spec.shape[0]); }
int linear_cols(const TensorSpec& spec) { return int(numel_of(spec.shape) / uint64_t(spec.shape[0])); }

bool stored_as_panels(const TensorSpec& spec, uint32_t version) { return spec.linear && version >= 2; }

uint64_t stored_bytes(const TensorSpec& spec, uint32_t version) {
    if (stored_as_panels(spec, version)) return uint64_t(panel_floats(linear_rows(spec), linear_cols(spec))) * 4;
    return numel_of(spec.shape) * 4;
}

// What a format version after 2 stores beyond version 2 (docs/FORMAT.md): the dtype and layout of
// its low-precision Linear weights, whether each has companion tensors (its "_scale" and "_sum"),
// the values of its "quantization" object, and the writer that writes it. Every difference
// between versions 3 and 4 is in this table.
struct LowPrecision {
    uint32_t version;
    std::string precision, weights, activations;
    std::vector<std::string> attention;  // the accepted values
    bool attention_optional;             // version 3 files written before the key have none: fp32
    bool calibration_methods;            // "calibration" may be an object naming a method
    std::string dtype, layout;           // of its Linear weights
    TensorDtype tensor_dtype;
    TensorLayout tensor_layout;
    bool companions;  // each weight followed by <weight>_scale (f32 [n]) and <weight>_sum (i32 [n])
    uint64_t (*weight_bytes)(int n, int k);
    std::string writer;
};

const std::vector<LowPrecision>& low_precisions() {
    static const std::vector<LowPrecision> table = [] {
        const QuantizationInfo int8;  // its defaults are the int8 scheme
        return std::vector<LowPrecision>{
            {kPomtInt8FormatVersion, "int8", int8.weights, int8.activations, {"int8", "fp32", "bf16"}, true, true, "i8",
             "panels16x4", TensorDtype::I8, TensorLayout::Panels16x4, true,
             [](int n, int k) { return uint64_t(int8_panel_bytes(n, k)); }, "write_quantized_weights_file"},
            {kPomtBf16FormatVersion, "bf16", "bf16 round-to-nearest-even", "bf16 at each Linear's input", {"fp32", "bf16"},
             false, false, "bf16", "panels16x2", TensorDtype::BF16, TensorLayout::Panels16x2, false,
             [](int n, int k) { return 2 * uint64_t(bf16_panel_elems(n, k)); }, "write_bf16_weights_file"},
        };
    }();
    return table;
}

// The entry of a version, a precision or a Linear weight dtype; null when none has it.
const LowPrecision* low_precision_of_version(uint32_t version) {
    for (const LowPrecision& lp : low_precisions())
        if (lp.version == version) return &lp;
    return nullptr;
}
const LowPrecision* low_precision_named(const std::string& precision) {
    for (const LowPrecision& lp : low_precisions())
        if (lp.precision == precision) return &lp;
    return nullptr;
}
const LowPrecision* low_precision_of_dtype(const std::string& dtype) {
    for (const LowPrecision& lp : low_precisions())
        if (lp.dtype == dtype) return &lp;
    return nullptr;
}

// A layout's name in the header ("C order" for none).
std::string layout_text(TensorLayout layout) {
    if (layout == TensorLayout::RowMajor) return "C order";
    if (layout == TensorLayout::Panels16) return kPanelsLayoutName;
    for (const LowPrecision& lp : low_precisions())
        if (lp.tensor_layout == layout) return lp.layout;
    return "?";
}

// One row of the tensor table, as written.
struct Entry {
    std::string name, dtype, layout;  // layout "" = C order (no key)
    std::vector<int64_t> shape;
    uint64_t nbytes = 0;
};

// The table of an fp32 file (version 2), in expected_tensors() order.
std::vector<Entry> fp32_entries(const ModelConfig& model) {
    std::vector<Entry> out;
    for (const TensorSpec& spec : expected_tensors(model))
        out.push_back({spec.name, "f32", spec.linear ? kPanelsLayoutName : "", spec.shape,
                       stored_bytes(spec, kPomtFormatVersion)});
    return out;
}

// The table of a low-precision file (version 3 or 4): each low-precision Linear weight (then, in
// version 3, its scales and sums), every other tensor f32 as in version 2.
std::vector<Entry> low_precision_entries(const ModelConfig& model, const LowPrecision& lp,
                                         const std::function<bool(const TensorSpec&)>& is_low) {
    std::vector<Entry> out;
    for (const TensorSpec& spec : expected_tensors(model)) {
        if (!spec.linear || !is_low(spec)) {
            out.push_back({spec.name, "f32", spec.linear ? kPanelsLayoutName : "", spec.shape,
                           stored_bytes(spec, lp.version)});
            continue;
        }
        const int n = linear_rows(spec), k = linear_cols(spec);
        out.push_back({spec.name, lp.dtype, lp.layout, spec.shape, lp.weight_bytes(n, k)});
        if (!lp.companions) continue;
        out.push_back({int8_scale_name(spec.name), "f32", "", {n}, uint64_t(n) * 4});
        out.push_back({int8_sum_name(spec.name), "i32", "", {n}, uint64_t(n) * 4});
    }
    return out;
}

json::Value quantization_value(const QuantizationInfo& q) {
    json::Value v = json::Value::object();
    v.set("precision", json::Value::string(q.precision));
    v.set("weights", json::Value::string(q.weights));
    v.set("activations", json::Value::string(q.activations));
    v.set("attention", json::Value::string(q.attention));
    if (q.calibration == "none" && q.calibration_details.as_object("calibration").empty()) {
        v.set("calibration", json::Value::string("none"));
    } else {
        json::Value c = json::Value::object();
        c.set("method", json::Value::string(q.calibration));
        for (const auto& kv : q.calibration_details.as_object("calibration")) c.set(kv.first, kv.second);
        v.set("calibration", c);
    }
    return v;
}

json::Value header_value(const WeightsMeta& meta, uint32_t version, const std::vector<Entry>& entries) {
    json::Value h = json::Value::object();
    h.set("format", json::Value::string("pomt"));
    h.set("version", json::Value::number(version));
    h.set("model", meta.model.to_json());
    h.set("preprocess", meta.preprocess.to_json());
    json::Value names = json::Value::array();
    for (const std::string& n : meta.class_names) names.push_back(json::Value::string(n));
    h.set("class_names", names);
    if (version >= 3) h.set("quantization", quantization_value(meta.quantization));
    json::Value tensors = json::Value::array();
    uint64_t offset = 0;
    for (const Entry& e : entries) {
        json::Value t = json::Value::object();
        t.set("name", json::Value::string(e.name));
        t.set("dtype", json::Value::string(e.dtype));
        json::Value shape = json::Value::array();
        for (int64_t s : e.shape) shape.push_back(json::Value::number(double(s)));
        t.set("shape", shape);
        if (!e.layout.empty()) t.set("layout", json::Value::string(e.layout));
        t.set("offset", json::Value::number(double(offset)));
        t.set("nbytes", json::Value::number(double(e.nbytes)));
        tensors.push_back(t);
        offset = align_up(offset + e.nbytes);
    }
    h.set("tensors", tensors);
    return h;
}

// The "quantization" object of a version 3 or 4 header: only what that version's kernels run is
// accepted, each other value refused with a line naming the field.
QuantizationInfo parse_quantization(const json::Value& v, const std::string& what, uint32_t version) {
    const std::string where = what + ": quantization";
    QuantizationInfo q;
    v.as_object(where);
    auto text = [&](const char* key) -> std::string {
        const json::Value* f = v.find(key);
        if (!f) fail(where + " lacks \"" + key + "\"");
        return f->as_string(where + " " + key);
    };
    auto only = [&](const char* key, const std::string& value, const std::string& known) {
        if (value != known) fail(where + " " + key + " '" + value + "' is not supported (only '" + known + "')");
    };
    q.precision = text("precision");
    const LowPrecision* lp = low_precision_named(q.precision);
    if (!lp) {
        std::string known;
        for (const LowPrecision& l : low_precisions())
            known += (known.empty() ? "" : ", ") + ("'" + l.precision + "' in version " + std::to_string(l.version));
        fail(where + " precision '" + q.precision + "' is not supported (only " + known + ")");
    }
    if (lp->version != version)
        fail(where + " precision '" + q.precision + "' needs .pomt format version " + std::to_string(lp->version) +
             " (this file is version " + std::to_string(version) + ")");
    q.weights = text("weights");
    only("weights", q.weights, lp->weights);
    q.activations = text("activations");
    only("activations", q.activations, lp->activations);
    if (const json::Value* a = v.find("attention")) {
        q.attention = a->as_string(where + " attention");
        if (std::find(lp->attention.begin(), lp->attention.end(), q.attention) == lp->attention.end()) {
            std::string known;
            for (size_t i = 0; i < lp->attention.size(); ++i)
                known += std::string(i == 0 ? "'" : i + 1 == lp->attention.size() ? " or '" : ", '") + lp->attention[i] + "'";
            fail(where + " attention '" + q.attention + "' is not supported (" +
                 (lp->attention.size() == 1 ? "only " : "") + known + ")");
        }
    } else if (!lp->attention_optional) {
        fail(where + " lacks \"attention\"");
    }
    const json::Value* c = v.find("calibration");
    if (!c) fail(where + " lacks \"calibration\"");
    if (c->is_string() || !lp->calibration_methods) {
        q.calibration = c->as_string(where + " calibration");
        if (q.calibration != "none")
            fail(where + " calibration must be \"none\"" +
                 (lp->calibration_methods ? " or an object with a \"method\""
                                          : " (a " + lp->precision + " model is not calibrated), not '" + q.calibration + "'"));
    } else {
        for (const auto& kv : c->as_object(where + " calibration")) {
            if (kv.first == "method") q.calibration = kv.second.as_string(where + " calibration method");
            else q.calibration_details.set(kv.first, kv.second);
        }
        if (!c->find("method")) fail(where + " calibration lacks \"method\"");
    }
    return q;
}

// A writer writes only what the reader reads: the precision its version holds, the values the
// reader accepts.
void check_writable_quantization(const QuantizationInfo& q, const LowPrecision& lp) {
    if (q.precision != lp.precision)
        fail(lp.writer + " needs quantization precision \"" + lp.precision + "\", not \"" + q.precision + "\"");
    parse_quantization(quantization_value(q), lp.writer, lp.version);
}

void check_meta(const WeightsMeta& meta) {
    meta.model.validate();
    if (!meta.class_names.empty() && int(meta.class_names.size()) != meta.model.num_classes)
        fail("class name count " + std::to_string(meta.class_names.size()) + " does not match num_classes " +
             std::to_string(meta.model.num_classes));
}

// The file being written: preamble and header first, then each tensor at the next 64-byte boundary.
class TensorWriter {
public:
    TensorWriter(const std::string& path, uint32_t version, const std::string& header) : out_(path) {
        std::string head(kPomtMagic, 8);
        put_u32(head, version);
        put_u32(head, 0);  // reserved
        put_u64(head, header.size());
        head += header;
        head.append(align_up(head.size()) - head.size(), '\0');
        out_.write(head.data(), head.size());
    }
    void put(const void* data, uint64_t nbytes) {
        static const char zeros[kPomtAlignment] = {};
        if (written_ % kPomtAlignment) {
            const uint64_t pad = kPomtAlignment - written_ % kPomtAlignment;
            out_.write(zeros, pad);
            written_ += pad;
        }
        out_.write(data, nbytes);
        written_ += nbytes;
    }
    void commit() { out_.commit(); }

private:
    AtomicFileWriter out_;
    uint64_t written_ = 0;
};

// A tensor's float32 values as stored: C order, or packed into panels for a Linear weight.
std::vector<float> stored_floats(const TensorSpec& spec, const std::function<std::vector<float>(const TensorSpec&)>& data) {
    std::vector<float> values = data(spec);
    if (values.size() != numel_of(spec.shape)) fail("tensor '" + spec.name + "' has the wrong number of values");
    if (spec.linear) {
        std::vector<float> packed(panel_floats(linear_rows(spec), linear_cols(spec)));
        pack_panels(values.data(), linear_rows(spec), linear_cols(spec), packed.data());
        values.swap(packed);
    }
    return values;
}

}  // namespace

std::string int8_scale_name(const std::string& weight_name) { return weight_name + "_scale"; }
std::string int8_sum_name(const std::string& weight_name) { return weight_name + "_sum"; }

std::string QuantizationInfo::calibration_text() const {
    std::string s = calibration;
    std::string details;
    for (const auto& kv : calibration_details.as_object("calibration")) {
        details += (details.empty() ? "" : ", ") + kv.first + " ";
        details += kv.second.is_string() ? kv.second.as_string("") : kv.second.dump();
    }
    return details.empty() ? s : s + " (" + details + ")";
}

QuantizationInfo bf16_quantization() {
    const LowPrecision& lp = *low_precision_of_version(kPomtBf16FormatVersion);
    QuantizationInfo q;
    q.precision = lp.precision;
    q.weights = lp.weights;
    q.activations = lp.activations;
    q.attention = lp.attention.front();
    q.calibration = "none";
    return q;
}

void write_weights_file(const std::string& path, const WeightsMeta& meta,
                        const std::function<std::vector<float>(const TensorSpec&)>& tensor_data) {
    if (meta.quantization.precision != "fp32") {
        const LowPrecision* lp = low_precision_named(meta.quantization.precision);
        if (!lp) fail("write_weights_file: unknown quantization precision '" + meta.quantization.precision + "'");
        fail("a " + lp->precision + " model is written as .pomt format version " + std::to_string(lp->version) +
             " (" + lp->writer + ")");
    }
    check_meta(meta);
    TensorWriter out(path, kPomtFormatVersion, header_value(meta, kPomtFormatVersion, fp32_entries(meta.model)).dump());
    for (const TensorSpec& spec : expected_tensors(meta.model)) {
        const std::vector<float> values = stored_floats(spec, tensor_data);
        out.put(values.data(), values.size() * 4);
    }
    out.commit();
}

void write_quantized_weights_file(const std::string& path, const WeightsMeta& meta,
                                  const std::function<std::vector<float>(const TensorSpec&)>& tensor_data,
                                  const std::function<const Int8Weights*(const TensorSpec&)>& int8_of) {
    const LowPrecision& lp = *low_precision_of_version(kPomtInt8FormatVersion);
    check_writable_quantization(meta.quantization, lp);
    check_meta(meta);
    const std::vector<Entry> entries =
        low_precision_entries(meta.model, lp, [&](const TensorSpec& s) { return int8_of(s) != nullptr; });
    TensorWriter out(path, lp.version, header_value(meta, lp.version, entries).dump());
    for (const TensorSpec& spec : expected_tensors(meta.model)) {
        const Int8Weights* w = spec.linear ? int8_of(spec) : nullptr;
        if (!w) {
            const std::vector<float> values = stored_floats(spec, tensor_data);
            out.put(values.data(), values.size() * 4);
            continue;
        }
        const int n = linear_rows(spec), k = linear_cols(spec);
        if (w->empty() || w->n != n || w->k != k)
            fail("int8 weight '" + spec.name + "' is not [" + std::to_string(n) + " × " + std::to_string(k) + "]");
        for (int j = 0; j < n; ++j)
            if (!(std::isfinite(w->scale[j]) && w->scale[j] > 0))
                fail("int8 weight '" + spec.name + "' has scale " + std::to_string(w->scale[j]) + " at column " +
                     std::to_string(j) + " (must be finite and > 0)");
        out.put(w->panels, int8_panel_bytes(n, k));
        out.put(w->scale, uint64_t(n) * 4);
        out.put(w->sum, uint64_t(n) * 4);
    }
    out.commit();
}

void write_bf16_weights_file(const std::string& path, const WeightsMeta& meta,
                             const std::function<std::vector<float>(const TensorSpec&)>& tensor_data,
                             const std::function<const uint16_t*(const TensorSpec&)>& bf16_of) {
    const LowPrecision& lp = *low_precision_of_version(kPomtBf16FormatVersion);
    check_writable_quantization(meta.quantization, lp);
    check_meta(meta);
    const std::vector<Entry> entries =
        low_precision_entries(meta.model, lp, [&](const TensorSpec& s) { return bf16_of(s) != nullptr; });
    TensorWriter out(path, lp.version, header_value(meta, lp.version, entries).dump());
    for (const TensorSpec& spec : expected_tensors(meta.model)) {
        const uint16_t* w = spec.linear ? bf16_of(spec) : nullptr;
        if (!w) {
            const std::vector<float> values = stored_floats(spec, tensor_data);
            out.put(values.data(), values.size() * 4);
            continue;
        }
        // The panels as they are in memory: little-endian uint16, as every tensor pomt writes.
        out.put(w, lp.weight_bytes(linear_rows(spec), linear_cols(spec)));
    }
    out.commit();
}

namespace {

// The Linear weight an int8 companion tensor ("…_scale" / "…_sum") belongs to, or "".
std::string companion_of(const std::string& name, const char* suffix) {
    const std::string s = suffix;
    if (name.size() <= s.size() || name.compare(name.size() - s.size(), s.size(), s) != 0) return "";
    return name.substr(0, name.size() - s.size());
}

}  // namespace

void parse_weights_image(const unsigned char* b, size_t size, const std::string& what, WeightsMeta* meta,
                         std::vector<WeightsTensor>* tensors, uint32_t* version_out) {
    if (size < kPomtPreambleBytes) fail(what + ": too short to be a .pomt file (" + std::to_string(size) + " bytes)");
    if (std::memcmp(b, kPomtMagic, 8) != 0) fail(what + ": not a .pomt file (wrong magic)");
    uint32_t version = get_u32(b + 8);
    if (version > kPomtNewestReadVersion)
        fail(what + ": .pomt format version " + std::to_string(version) + " is newer than this pomt reads (" +
             std::to_string(kPomtNewestReadVersion) + "); update pomt");
    if (version == 0) fail(what + ": invalid .pomt format version 0");
    if (version_out) *version_out = version;
    uint64_t header_len = get_u64(b + 16);
    if (header_len > kPomtMaxHeaderBytes || header_len > size - kPomtPreambleBytes)
        fail(what + ": header length " + std::to_string(header_len) + " runs past the end of the file");
    std::string text(reinterpret_cast<const char*>(b + kPomtPreambleBytes), size_t(header_len));
    json::Value h = json::parse(text, what + " header");
    if (!h.is_object()) fail(what + ": header is not a JSON object");
    // The header repeats the preamble's magic and version (docs/FORMAT.md): a file whose two
    // disagree was edited or damaged, and either reading of it could be wrong.
    if (const json::Value* f = h.find("format"); f && !(f->is_string() && f->as_string("") == "pomt"))
        fail(what + ": header \"format\" is not \"pomt\"");
    if (const json::Value* v = h.find("version"); v && !(v->is_number() && v->as_number("") == double(version)))
        fail(what + ": header \"version\" does not match the file's format version " + std::to_string(version) +
             " (bytes 8-11)");
    const json::Value* model = h.find("model");
    const json::Value* pre = h.find("preprocess");
    const json::Value* list = h.find("tensors");
    if (!model || !pre || !list) fail(what + ": header lacks model, preprocess or tensors");
    meta->model = ModelConfig::from_json(*model, what);
    meta->preprocess = PreprocessConfig::from_json(*pre, what);
    meta->class_names.clear();
    if (const json::Value* names = h.find("class_names")) {
        for (const json::Value& n : names->as_array(what + ": class_names"))
            meta->class_names.push_back(n.as_string(what + ": class_names"));
        if (!meta->class_names.empty() && int(meta->class_names.size()) != meta->model.num_classes)
            fail(what + ": " + std::to_string(meta->class_names.size()) + " class names for " +
                 std::to_string(meta->model.num_classes) + " classes");
    }
    if (meta->preprocess.input_size[1] != meta->model.img_size || meta->preprocess.input_size[2] != meta->model.img_size)
        fail(what + ": preprocess input_size does not match the model's img_size");
    // Versions 3 (int8) and 4 (bf16), and only they, hold a low-precision model and say what was done.
    const LowPrecision* low = low_precision_of_version(version);  // null for versions 1 and 2
    const json::Value* quant = h.find("quantization");
    if (low && !quant)
        fail(what + ": a version " + std::to_string(version) + " file lacks its \"quantization\" object");
    if (!low && quant) {
        const json::Value* p = quant->is_object() ? quant->find("precision") : nullptr;
        const LowPrecision* needs = p && p->is_string() ? low_precision_named(p->as_string("")) : nullptr;
        fail(what + ": has a \"quantization\" object, which needs .pomt format version " +
             (needs ? std::to_string(needs->version) : "3 or later"));
    }
    meta->quantization = quant ? parse_quantization(*quant, what, version) : QuantizationInfo();

    const uint64_t data_start = align_up(kPomtPreambleBytes + header_len);
    if (data_start > size) fail(what + ": file ends inside the header padding");
    const uint64_t data_size = size - data_start;
    std::unordered_map<std::string, TensorSpec> expected;
    for (TensorSpec& s : expected_tensors(meta->model)) expected.emplace(s.name, s);
    // Version 3: the Linear weights stored as int8 (their companions must follow) and the
    // companions seen (each must belong to one of them).
    std::vector<std::string> int8_weights;
    std::unordered_map<std::string, std::string> companions;  // companion name → its weight

    tensors->clear();
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const json::Value& t : list->as_array(what + ": tensors")) {
        const json::Value* name = t.find("name");
        if (!name) fail(what + ": a tensor entry has no name");
        const std::string n = name->as_string(what + ": tensor name");
        const std::string where = what + ": tensor '" + n + "'";
        const json::Value* dtype = t.find("dtype");
        const json::Value* shape = t.find("shape");
        const json::Value* offset = t.find("offset");
        const json::Value* nbytes = t.find("nbytes");
        if (!dtype || !shape || !offset || !nbytes) fail(where + " lacks dtype, shape, offset or nbytes");
        const std::string dtype_name = dtype->as_string(where + " dtype");
        std::vector<int64_t> dims;
        for (const json::Value& d : shape->as_array(where + " shape")) dims.push_back(d.as_int(where + " shape"));
        const json::Value* l = t.find("layout");
        const std::string layout_name = l ? l->as_string(where + " layout") : "";
        if (l && version < 2) fail(where + " has a layout field, which needs .pomt format version 2");

        TensorDtype dt = TensorDtype::F32;
        TensorLayout layout = TensorLayout::RowMajor;
        uint64_t want = 0;
        auto it = expected.find(n);
        const std::string scale_of = companion_of(n, "_scale"), sum_of = companion_of(n, "_sum");
        const std::string owner = scale_of.empty() ? sum_of : scale_of;
        if (it == expected.end() && low && low->companions && !owner.empty() && !companions.count(n)) {
            // An int8 weight's per-column scales (f32 [n]) or sums (i32 [n]), C order.
            const char* need = scale_of.empty() ? "i32" : "f32";
            if (dtype_name != need) fail(where + " has dtype '" + dtype_name + "' (its companion dtype is '" + need + "')");
            if (l) fail(where + " has a layout, but int8 scales and sums are stored in C order");
            if (dims.size() != 1 || dims[0] <= 0) fail(where + " must have shape [n] (one value per output column)");
            dt = scale_of.empty() ? TensorDtype::I32 : TensorDtype::F32;
            want = uint64_t(dims[0]) * 4;
            companions.emplace(n, owner);
        } else {
            if (it == expected.end())
                fail(where + " is not part of a " + meta->model.architecture + " model (or repeated)");
            const TensorSpec& spec = it->second;
            if (dims != spec.shape) fail(where + " has a shape that does not match the model config");
            const LowPrecision* dtype_low = low_precision_of_dtype(dtype_name);
            if (dtype_low && dtype_low == low && spec.linear) {
                // A low-precision Linear weight: always in its version's panels (kernels/gemm_int8.h,
                // kernels/gemm_bf16.h).
                if (layout_name != low->layout)
                    fail(where + " is " + low->precision + " and needs \"layout\":\"" + low->layout + "\"");
                dt = low->tensor_dtype;
                layout = low->tensor_layout;
                want = low->weight_bytes(linear_rows(spec), linear_cols(spec));
                if (low->companions) int8_weights.push_back(n);
            } else {
                if (dtype_name != "f32")
                    fail(where + " has unsupported dtype '" + dtype_name + "'" +
                         (dtype_low && dtype_low != low
                              ? " (" + dtype_low->precision + " tensors need .pomt format version " +
                                    std::to_string(dtype_low->version) + ")"
                              : dtype_low ? " (only Linear weights may be " + dtype_low->precision + ")" : ""));
                // From version 2 on exactly the f32 Linear weights are stored in panels, and say so.
                if (l) {
                    if (!spec.linear)
                        fail(where + " has layout '" + layout_name + "' but only Linear weights may be stored in panels");
                    if (layout_name != kPanelsLayoutName)
                        fail(where + " has unknown layout '" + layout_name + "' (only '" + kPanelsLayoutName +
                             "' for f32)");
                    layout = TensorLayout::Panels16;
                } else if (stored_as_panels(spec, version)) {
                    fail(where + " lacks \"layout\":\"" + kPanelsLayoutName +
                         "\" (from version 2 on every f32 Linear weight is stored in panels)");
                }
                want = stored_bytes(spec, version);
            }
            expected.erase(it);
        }
        int64_t off = offset->as_int(where + " offset"), nb = nbytes->as_int(where + " nbytes");
        if (off < 0 || nb < 0) fail(where + " has a negative offset or size");
        if (uint64_t(nb) != want)
            fail(where + " nbytes " + std::to_string(nb) + " does not match its shape" +
                 (layout == TensorLayout::RowMajor ? "" : std::string(" in ") + layout_text(layout) + " layout") +
                 " (" + std::to_string(want) + ")");
        if (uint64_t(off) % kPomtAlignment) fail(where + " is not 64-byte aligned");
        if (uint64_t(off) > data_size || uint64_t(nb) > data_size - uint64_t(off))
            fail(where + " runs past the end of the file (truncated?)");
        ranges.emplace_back(uint64_t(off), uint64_t(off) + uint64_t(nb));
        tensors->push_back({n, dims, reinterpret_cast<const float*>(b + data_start + uint64_t(off)), layout,
                            uint64_t(nb), dt});
    }
    if (!expected.empty()) fail(what + ": tensor '" + expected.begin()->first + "' is missing");
    // Each int8 weight has exactly its two companions, of its n; no companion is left over.
    std::unordered_map<std::string, const WeightsTensor*> by_name;
    for (const WeightsTensor& t : *tensors) by_name.emplace(t.name, &t);
    for (const std::string& w : int8_weights) {
        const int64_t n = by_name.at(w)->shape[0];
        for (const std::string& c : {int8_scale_name(w), int8_sum_name(w)}) {
            auto found = by_name.find(c);
            if (found == by_name.end()) fail(what + ": int8 weight '" + w + "' lacks its tensor '" + c + "'");
            if (found->second->shape[0] != n)
                fail(what + ": tensor '" + c + "' has " + std::to_string(found->second->shape[0]) +
                     " values for the " + std::to_string(n) + " output columns of '" + w + "'");
            companions.erase(c);
        }
    }
    if (!companions.empty())
        fail(what + ": tensor '" + companions.begin()->first + "' belongs to no int8 weight (or is repeated)");
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second) fail(what + ": tensors overlap");
    // Only now is tensor data read: the scales, a few values per layer (the sums are trusted, see
    // docs/FORMAT.md; reading them all would touch every weight page at load).
    for (const std::string& w : int8_weights) {
        const WeightsTensor& s = *by_name.at(int8_scale_name(w));
        for (int64_t j = 0; j < s.shape[0]; ++j) {
            float v;
            std::memcpy(&v, reinterpret_cast<const unsigned char*>(s.data) + 4 * j, 4);
            if (!(std::isfinite(v) && v > 0))
                fail(what + ": tensor '" + s.name + "' has scale " + std::to_string(v) + " at column " +
                     std::to_string(j) + " (must be finite and > 0)");
        }
    }
}

WeightsFile::WeightsFile(const std::string& path, bool allow_mmap) {
    file_ = std::make_unique<MappedFile>(path, "model file", allow_mmap);
    parse_weights_image(file_->data(), file_->size(), "'" + path + "'", &meta_, &tensors_, &version_);
}

const WeightsTensor* WeightsFile::tensor(const std::string& name) const {
    for (const WeightsTensor& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

}  // namespace pomt
