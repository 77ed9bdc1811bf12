#include "vit/weights_file.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

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

json::Value header_value(const WeightsMeta& meta, uint32_t version) {
    json::Value h = json::Value::object();
    h.set("format", json::Value::string("pomt"));
    h.set("version", json::Value::number(version));
    h.set("model", meta.model.to_json());
    h.set("preprocess", meta.preprocess.to_json());
    json::Value names = json::Value::array();
    for (const std::string& n : meta.class_names) names.push_back(json::Value::string(n));
    h.set("class_names", names);
    json::Value tensors = json::Value::array();
    uint64_t offset = 0;
    for (const TensorSpec& spec : expected_tensors(meta.model)) {
        uint64_t nbytes = stored_bytes(spec, version);
        json::Value t = json::Value::object();
        t.set("name", json::Value::string(spec.name));
        t.set("dtype", json::Value::string("f32"));
        json::Value shape = json::Value::array();
        for (int64_t s : spec.shape) shape.push_back(json::Value::number(double(s)));
        t.set("shape", shape);
        if (stored_as_panels(spec, version)) t.set("layout", json::Value::string(kPanelsLayoutName));
        t.set("offset", json::Value::number(double(offset)));
        t.set("nbytes", json::Value::number(double(nbytes)));
        tensors.push_back(t);
        offset = align_up(offset + nbytes);
    }
    h.set("tensors", tensors);
    return h;
}

}  // namespace

std::string weights_header_json(const WeightsMeta& meta, uint32_t version) {
    return header_value(meta, version).dump();
}

void write_weights_file(const std::string& path, const WeightsMeta& meta,
                        const std::function<std::vector<float>(const TensorSpec&)>& tensor_data, uint32_t version) {
    if (version < 1 || version > kPomtFormatVersion)
        fail("cannot write .pomt format version " + std::to_string(version) + " (1.." +
             std::to_string(kPomtFormatVersion) + ")");
    meta.model.validate();
    if (!meta.class_names.empty() && int(meta.class_names.size()) != meta.model.num_classes)
        fail("class name count " + std::to_string(meta.class_names.size()) + " does not match num_classes " +
             std::to_string(meta.model.num_classes));
    std::string header = weights_header_json(meta, version);
    std::string pre(kPomtMagic, 8);
    put_u32(pre, version);
    put_u32(pre, 0);  // reserved
    put_u64(pre, header.size());
    std::string head = pre + header;
    head.append(align_up(head.size()) - head.size(), '\0');

    AtomicFileWriter out(path);
    out.write(head.data(), head.size());
    uint64_t written = 0;
    static const char zeros[kPomtAlignment] = {};
    for (const TensorSpec& spec : expected_tensors(meta.model)) {
        std::vector<float> values = tensor_data(spec);
        if (values.size() != numel_of(spec.shape)) fail("tensor '" + spec.name + "' has the wrong number of values");
        if (stored_as_panels(spec, version)) {
            std::vector<float> panels(panel_floats(linear_rows(spec), linear_cols(spec)));
            pack_panels(values.data(), linear_rows(spec), linear_cols(spec), panels.data());
            values.swap(panels);
        }
        if (written % kPomtAlignment) {
            uint64_t pad = kPomtAlignment - written % kPomtAlignment;
            out.write(zeros, pad);
            written += pad;
        }
        out.write(values.data(), values.size() * 4);
        written += values.size() * 4;
    }
    out.commit();
}

void parse_weights_image(const unsigned char* b, size_t size, const std::string& what, WeightsMeta* meta,
                         std::vector<WeightsTensor>* tensors, uint32_t* version_out) {
    if (size < kPomtPreambleBytes) fail(what + ": too short to be a .pomt file (" + std::to_string(size) + " bytes)");
    if (std::memcmp(b, kPomtMagic, 8) != 0) fail(what + ": not a .pomt file (wrong magic)");
    uint32_t version = get_u32(b + 8);
    if (version > kPomtFormatVersion)
        fail(what + ": .pomt format version " + std::to_string(version) + " is newer than this pomt reads (" +
             std::to_string(kPomtFormatVersion) + "); update pomt");
    if (version == 0) fail(what + ": invalid .pomt format version 0");
    if (version_out) *version_out = version;
    uint64_t header_len = get_u64(b + 16);
    if (header_len > kPomtMaxHeaderBytes || header_len > size - kPomtPreambleBytes)
        fail(what + ": header length " + std::to_string(header_len) + " runs past the end of the file");
    std::string text(reinterpret_cast<const char*>(b + kPomtPreambleBytes), size_t(header_len));
    json::Value h = json::parse(text, what + " header");
    if (!h.is_object()) fail(what + ": header is not a JSON object");
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

    const uint64_t data_start = align_up(kPomtPreambleBytes + header_len);
    if (data_start > size) fail(what + ": file ends inside the header padding");
    const uint64_t data_size = size - data_start;
    std::unordered_map<std::string, TensorSpec> expected;
    for (TensorSpec& s : expected_tensors(meta->model)) expected.emplace(s.name, s);

    tensors->clear();
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const json::Value& t : list->as_array(what + ": tensors")) {
        const json::Value* name = t.find("name");
        if (!name) fail(what + ": a tensor entry has no name");
        const std::string n = name->as_string(what + ": tensor name");
        const std::string where = what + ": tensor '" + n + "'";
        auto it = expected.find(n);
        if (it == expected.end()) fail(where + " is not part of a " + meta->model.architecture + " model (or repeated)");
        const json::Value* dtype = t.find("dtype");
        const json::Value* shape = t.find("shape");
        const json::Value* offset = t.find("offset");
        const json::Value* nbytes = t.find("nbytes");
        if (!dtype || !shape || !offset || !nbytes) fail(where + " lacks dtype, shape, offset or nbytes");
        if (dtype->as_string(where + " dtype") != "f32") fail(where + " has unsupported dtype '" + dtype->as_string("") + "'");
        std::vector<int64_t> dims;
        for (const json::Value& d : shape->as_array(where + " shape")) dims.push_back(d.as_int(where + " shape"));
        if (dims != it->second.shape) fail(where + " has a shape that does not match the model config");
        // Version 2 stores exactly the Linear weights in panels, and says so in the table.
        const TensorSpec& spec = it->second;
        TensorLayout layout = TensorLayout::RowMajor;
        if (const json::Value* l = t.find("layout")) {
            const std::string name_of_layout = l->as_string(where + " layout");
            if (version < 2) fail(where + " has a layout field, which needs .pomt format version 2");
            if (!spec.linear)
                fail(where + " has layout '" + name_of_layout + "' but only Linear weights may be stored in panels");
            if (name_of_layout != kPanelsLayoutName)
                fail(where + " has unknown layout '" + name_of_layout + "' (only '" + kPanelsLayoutName + "')");
            layout = TensorLayout::Panels16;
        } else if (stored_as_panels(spec, version)) {
            fail(where + " lacks \"layout\":\"" + kPanelsLayoutName +
                 "\" (version 2 stores every Linear weight in panels)");
        }
        int64_t off = offset->as_int(where + " offset"), nb = nbytes->as_int(where + " nbytes");
        if (off < 0 || nb < 0) fail(where + " has a negative offset or size");
        const uint64_t want = stored_bytes(spec, version);
        if (uint64_t(nb) != want)
            fail(where + " nbytes " + std::to_string(nb) + " does not match its shape" +
                 (layout == TensorLayout::Panels16 ? " in panels16 layout (" : " (") + std::to_string(want) + ")");
        if (uint64_t(off) % kPomtAlignment) fail(where + " is not 64-byte aligned");
        if (uint64_t(off) > data_size || uint64_t(nb) > data_size - uint64_t(off))
            fail(where + " runs past the end of the file (truncated?)");
        ranges.emplace_back(uint64_t(off), uint64_t(off) + uint64_t(nb));
        tensors->push_back({n, dims, reinterpret_cast<const float*>(b + data_start + uint64_t(off)), layout, uint64_t(nb)});
        expected.erase(it);
    }
    if (!expected.empty()) fail(what + ": tensor '" + expected.begin()->first + "' is missing");
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second) fail(what + ": tensors overlap");
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
