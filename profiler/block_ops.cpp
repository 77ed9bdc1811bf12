#include "profiler/block_ops.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/memory_limit.h"
#include "kernels/activations.h"
#include "kernels/attention_bf16.h"
#include "kernels/gemm.h"
#include "pomt/error.h"
#include "vit/layers.h"

namespace pomt {

namespace {

// kQIn, kQHidden: an int8 model's quantized inputs of the D-wide Linears and of fc2; kHeads: int8
// attention's quantized Q, K, V per (image, head), or bf16 attention's packed K and V; kLogits:
// either's logits before the softmax.
enum Slot { kH, kQkv, kAttnOut, kProbs, kMlp, kSizes, kLogSizes, kQIn, kQHidden, kHeads, kLogits, kSlots };

// Adds the seconds since the previous lap (or the start) to an operation.
class Laps {
public:
    explicit Laps(OpTimes& times) : times_(times), last_(std::chrono::steady_clock::now()) {}
    void operator()(BlockOp op) {
        const auto now = std::chrono::steady_clock::now();
        times_.seconds[int(op)] += std::chrono::duration<double>(now - last_).count();
        last_ = now;
    }

private:
    OpTimes& times_;
    std::chrono::steady_clock::time_point last_;
};

// Attention in three timed passes: per (image, head) scores = scale·Q·Kᵀ + key_bias, then softmax
// of every row, then P·V — each with the fast kernels.
void attention_unfused(const ModelConfig& c, ThreadPool* pool, const float* qkv, int batch, int n,
                       const float* log_sizes, float* probs, float* out, Laps& lap) {
    const int D = c.embed_dim, heads = c.num_heads, hd = c.head_dim();
    const float scale = 1.0f / std::sqrt(float(hd));
    const int tasks = batch * heads;
    std::vector<PackedWeights> keys(static_cast<size_t>(tasks)), values(static_cast<size_t>(tasks));
    // Operand packing belongs to the GEMM it feeds: K with the scores, Vᵀ with P·V.
    parallel_for(pool, tasks, 1, [&](int t0, int t1) {
        std::vector<float> k(static_cast<size_t>(n) * hd);
        for (int t = t0; t < t1; ++t) {
            const float* base = qkv + size_t(t / heads) * n * 3 * D + D + (t % heads) * hd;
            for (int j = 0; j < n; ++j) std::memcpy(&k[size_t(j) * hd], base + size_t(j) * 3 * D, size_t(hd) * sizeof(float));
            keys[size_t(t)] = pack_weights(k.data(), n, hd);
            keys[size_t(t)].original = nullptr;  // k is a temporary
            float* p = probs + size_t(t) * n * n;
            gemm(n, qkv + size_t(t / heads) * n * 3 * D + (t % heads) * hd, 3 * D, keys[size_t(t)], p, n, Epilogue(), nullptr);
            const float* bias = log_sizes ? log_sizes + size_t(t / heads) * n : nullptr;
            for (size_t i = 0; i < size_t(n) * n; ++i) p[i] = p[i] * scale + (bias ? bias[i % size_t(n)] : 0.0f);
        }
    });
    lap(BlockOp::Scores);
    parallel_for(pool, tasks * n, 64, [&](int r0, int r1) {
        for (int r = r0; r < r1; ++r) softmax_inplace(probs + size_t(r) * n, n);
    });
    lap(BlockOp::Softmax);
    parallel_for(pool, tasks, 1, [&](int t0, int t1) {
        std::vector<float> vt(static_cast<size_t>(hd) * n);
        for (int t = t0; t < t1; ++t) {
            const float* base = qkv + size_t(t / heads) * n * 3 * D + 2 * D + (t % heads) * hd;
            for (int j = 0; j < n; ++j)
                for (int e = 0; e < hd; ++e) vt[size_t(e) * n + j] = base[size_t(j) * 3 * D + e];
            values[size_t(t)] = pack_weights(vt.data(), hd, n);
            values[size_t(t)].original = nullptr;
            gemm(n, probs + size_t(t) * n * n, n, values[size_t(t)], out + size_t(t / heads) * n * D + (t % heads) * hd, D,
                 Epilogue(), nullptr);
        }
    });
    lap(BlockOp::AttnV);
}

// The logits of int8 attention's scores pass: every (image, head)'s rows, whole vectors wide.
uint64_t int8_logits_floats(const ModelConfig& c, int batch, int n) {
    return uint64_t(batch) * uint64_t(c.num_heads) * uint64_t(n) * uint64_t((n + 15) / 16 * 16);
}

// Task t's (image t / heads, head t % heads) rows: all of them, its output columns, its key bias.
AttentionRows task_rows(const ModelConfig& c, int t, int n, const float* log_sizes, float* out) {
    const int H = c.num_heads, hd = c.head_dim();
    AttentionRows rows;
    rows.scale = 1.0f / std::sqrt(float(hd));
    rows.key_bias = log_sizes ? log_sizes + size_t(t / H) * n : nullptr;
    rows.out = out + size_t(t / H) * n * c.embed_dim + (t % H) * hd;
    rows.ld_out = c.embed_dim;
    return rows;
}

// The softmax of `rows` logits rows (ld apart) into probs (n apart): the middle pass of the int8 and
// bf16 attentions below.
void softmax_of_logits(ThreadPool* pool, int rows, int n, const float* logits, size_t ld, float* probs) {
    parallel_for(pool, rows, 64, [&](int r0, int r1) {
        for (int r = r0; r < r1; ++r) {
            float* p = probs + size_t(r) * n;
            std::memcpy(p, logits + size_t(r) * ld, size_t(n) * sizeof(float));
            softmax_inplace(p, n);
        }
    });
}

// int8 attention (kernels/attention_int8.h) in the same three timed passes: Q·Kᵀ on the int8 tiles
// with its float corrections, the softmax rows, then P·V (P' formed, quantized and multiplied on
// the tiles). The heads were quantized in the qkv GEMM's epilogue, as in the Session.
void attention_int8_unfused(const ModelConfig& c, ThreadPool* pool, float* heads, int batch, int n,
                            const float* log_sizes, float* logits, float* probs, float* out, Laps& lap) {
    const int tasks = batch * c.num_heads;
    const size_t ld = size_t(n + 15) / 16 * 16;
    auto head_task = [&](int t, const Int8Head& h) {
        AttentionHeadInt8 a;
        static_cast<AttentionRows&>(a) = task_rows(c, t, n, log_sizes, out);
        a.head = &h;
        return a;
    };
    // `logits` rows are ld apart (whole vectors, int8_logits_floats); probs gets the softmax rows n apart.
    parallel_for(pool, tasks, 1, [&](int t0, int t1) {
        for (int t = t0; t < t1; ++t) {
            const Int8Head h = int8_head_at(c, heads, n, t);
            attention_int8_scores(head_task(t, h), logits + size_t(t) * n * ld, ld);
        }
    });
    lap(BlockOp::Scores);
    softmax_of_logits(pool, tasks * n, n, logits, ld, probs);
    lap(BlockOp::Softmax);
    parallel_for(pool, tasks, 1, [&](int t0, int t1) {
        for (int t = t0; t < t1; ++t) {
            const Int8Head h = int8_head_at(c, heads, n, t);
            attention_int8_pv(head_task(t, h), probs + size_t(t) * n * n, size_t(n));
        }
    });
    lap(BlockOp::AttnV);
}

// bf16 attention (kernels/attention_bf16.h) in the same three timed passes: each head's K and V
// packed and Q·Kᵀ on the bf16 GEMM with the scale and key bias, the softmax rows, then P·V (P
// rounded and multiplied). `heads`: bf16_head_floats(n, head_dim) floats per (image, head).
void attention_bf16_unfused(const ModelConfig& c, ThreadPool* pool, float* heads, const float* qkv, int batch, int n,
                            const float* log_sizes, float* logits, float* probs, float* out, Laps& lap) {
    const int D = c.embed_dim, H = c.num_heads, hd = c.head_dim(), tasks = batch * H;
    const size_t ld = size_t(n + 15) / 16 * 16;
    auto head_task = [&](int t, const Bf16Head& h) {
        AttentionHeadBf16 a;
        static_cast<AttentionRows&>(a) = task_rows(c, t, n, log_sizes, out);
        a.head = &h;
        a.q = qkv + size_t(t / H) * n * 3 * D + (t % H) * hd;
        a.ld_q = 3 * D;
        return a;
    };
    const size_t head_floats = bf16_head_floats(n, hd);
    auto head_at = [&](int t) { return bf16_head_in(heads + size_t(t) * head_floats, n, hd); };
    parallel_for(pool, tasks, 1, [&](int t0, int t1) {
        for (int t = t0; t < t1; ++t) {
            const Bf16Head h = head_at(t);
            const float* base = qkv + size_t(t / H) * n * 3 * D + (t % H) * hd;
            bf16_head_pack(h, base + D, base + 2 * D, 3 * D, 0, n);
            attention_bf16_scores(head_task(t, h), logits + size_t(t) * n * ld, ld);
        }
    });
    lap(BlockOp::Scores);
    softmax_of_logits(pool, tasks * n, n, logits, ld, probs);
    lap(BlockOp::Softmax);
    parallel_for(pool, tasks, 1, [&](int t0, int t1) {
        for (int t = t0; t < t1; ++t) {
            const Bf16Head h = head_at(t);
            attention_bf16_pv(head_task(t, h), probs + size_t(t) * n * n, size_t(n));
        }
    });
    lap(BlockOp::AttnV);
}

}  // namespace

const char* block_op_name(BlockOp op) {
    static const char* const names[] = {"norm1", "qkv",   "scores", "softmax", "attn_v", "proj",
                                        "prune", "norm2", "fc1",    "gelu",    "fc2"};
    return names[int(op)];
}

float* OpTimedBlock::buffer(int slot, size_t floats) {
    if (buffers_.empty()) {
        buffers_.resize(kSlots);
        capacity_.assign(kSlots, 0);
    }
    if (capacity_[size_t(slot)] < floats) {
        buffers_[size_t(slot)] = alloc_floats(floats);
        capacity_[size_t(slot)] = floats;
    }
    return buffers_[size_t(slot)].get();
}

int OpTimedBlock::run(int layer, float* x, int batch, int n, TokenPruner* pruner, OpTimes& times) {
    const Model& model = session_.model();
    const ModelConfig& c = model.config();
    if (layer < 0 || layer >= c.depth) fail("block range outside the model");
    if (n < 1 || batch < 1) fail("run_blocks needs at least one token and one image");
    const int D = c.embed_dim, H = c.mlp_hidden;
    const float eps = float(c.ln_eps);
    const bool tracks_sizes = pruner && pruner->tracks_sizes();
    const uint64_t rows_all = uint64_t(batch) * uint64_t(n);
    const bool int8 = model.is_int8(), int8_attention = model.int8_attention(), bf16_attention = model.bf16_attention();
    const uint64_t floats = rows_all * uint64_t(6 * D + H + (tracks_sizes ? 2 : 0)) +
                            uint64_t(batch) * uint64_t(c.num_heads) * uint64_t(n) * uint64_t(n) +
                            (int8_attention || bf16_attention ? uint64_t(int8_logits_floats(c, batch, n)) : 0) +
                            (bf16_attention ? uint64_t(batch) * c.num_heads * bf16_head_floats(n, c.head_dim()) : 0) +
                            (int8 ? uint64_t(quantized_rows_floats(int(rows_all), D)) +
                                        uint64_t(quantized_rows_floats(int(rows_all), H))
                                  : 0) +
                            (int8_attention ? uint64_t(int8_heads_floats(c, batch, n)) : 0);
    check_memory_limit(floats * sizeof(float), session_.memory_limit(),
                       "the per-operation block of " + std::to_string(batch) + (batch == 1 ? " image" : " images") +
                           " at " + std::to_string(n) + " tokens");
    int rows = batch * n;
    float* h = buffer(kH, size_t(rows) * D);
    float* qkv = buffer(kQkv, size_t(rows) * 3 * D);
    float* attn_out = buffer(kAttnOut, size_t(rows) * D);
    float* probs = buffer(kProbs, size_t(batch) * c.num_heads * n * n);
    float* mlp = buffer(kMlp, size_t(rows) * H);
    float *sizes = nullptr, *log_sizes = nullptr;
    if (tracks_sizes) {
        sizes = buffer(kSizes, size_t(rows));
        std::fill(sizes, sizes + rows, 1.0f);
        log_sizes = buffer(kLogSizes, size_t(rows));
        for (int i = 0; i < rows; ++i) log_sizes[i] = std::log(sizes[i]);
    }
    ThreadPool* pool = &session_.pool();
    const BlockParams& bp = model.blocks[size_t(layer)];

    // An int8 Linear's input is quantized where the Session quantizes it: in the LayerNorm (timed
    // as the norm), after the attention (timed with proj) and after the GELU (timed with it).
    LinearInput in;
    auto input_from = [&](const LinearParams& p, const float* from, int ld, int k, int slot) {
        in = LinearInput();
        if (p.is_int8()) {
            in.q = quantized_rows_in(buffer(slot, quantized_rows_floats(rows, k)), rows, k);
            quantize_rows_parallel(pool, from, ld, rows, k, in.q);
        } else {
            in.x = from;
            in.ld = ld;
        }
    };
    auto normed = [&](const LinearParams& p, const LayerNormParams& norm) {
        in = LinearInput();
        if (p.is_int8()) {
            in.q = quantized_rows_in(buffer(kQIn, quantized_rows_floats(rows, D)), rows, D);
            layernorm_quantize_rows(pool, x, rows, D, norm, eps, in.q);
        } else {
            layernorm_rows(pool, x, h, rows, D, norm, eps);
            in.x = h;
            in.ld = D;
        }
    };

    Laps lap(times);
    normed(bp.qkv, bp.norm1);
    lap(BlockOp::Norm1);
    if (int8_attention) {
        // The heads quantized in the qkv GEMM's epilogue, V's column sums after it: all timed as qkv.
        float* heads = buffer(kHeads, int8_heads_floats(c, batch, n));
        int8_heads_clear(pool, c, heads, batch, n);
        linear_then(pool, bp.qkv, in.q, rows, qkv, 3 * D,
                    [&](int r0, int r1) { quantize_qkv_heads(c, heads, qkv, n, r0, r1, true, true); });
        int8_heads_finish(pool, c, heads, batch, n);
        lap(BlockOp::Qkv);
        float* logits = buffer(kLogits, int8_logits_floats(c, batch, n));
        attention_int8_unfused(c, pool, heads, batch, n, log_sizes, logits, probs, attn_out, lap);
    } else if (bf16_attention) {
        linear(pool, bp.qkv, in, rows, qkv, 3 * D);
        lap(BlockOp::Qkv);
        float* heads = buffer(kHeads, size_t(batch) * c.num_heads * bf16_head_floats(n, c.head_dim()));
        float* logits = buffer(kLogits, int8_logits_floats(c, batch, n));
        attention_bf16_unfused(c, pool, heads, qkv, batch, n, log_sizes, logits, probs, attn_out, lap);
    } else {
        linear(pool, bp.qkv, in, rows, qkv, 3 * D);
        lap(BlockOp::Qkv);
        attention_unfused(c, pool, qkv, batch, n, log_sizes, probs, attn_out, lap);
    }
    input_from(bp.proj, attn_out, D, D, kQIn);
    add_linear(pool, bp.proj, in, rows, bp.ls1, x, D);
    lap(BlockOp::Proj);
    if (pruner)
        n = prune_step(*pruner, c, layer, x, batch, n, qkv, pruner->wants_attention(layer) ? probs : nullptr, sizes, pool);
    lap(BlockOp::Prune);
    rows = batch * n;
    normed(bp.fc1, bp.norm2);
    lap(BlockOp::Norm2);
    linear(pool, bp.fc1, in, rows, mlp, H);
    lap(BlockOp::Fc1);
    parallel_for(pool, rows, 16, [&](int b, int e) {
        float* rows_be = mlp + size_t(b) * H;
        switch (hidden_activation(c, bp.fc1, bp.fc2)) {
            case Activation::QuickGelu: quick_gelu_inplace(rows_be, size_t(e - b) * H); break;
            case Activation::GeluFast: gelu_fast_inplace(rows_be, size_t(e - b) * H); break;
            default: gelu_inplace(rows_be, size_t(e - b) * H); break;
        }
    });
    input_from(bp.fc2, mlp, H, H, kQHidden);
    lap(BlockOp::Gelu);
    add_linear(pool, bp.fc2, in, rows, bp.ls2, x, D);
    lap(BlockOp::Fc2);
    return n;
}

}  // namespace pomt
