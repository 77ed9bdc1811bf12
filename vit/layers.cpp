#include "vit/layers.h"

#include <algorithm>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_int8.h"
#include "kernels/norms.h"
#include "pomt/error.h"

namespace pomt {

void layernorm_rows(ThreadPool* pool, const float* x, float* y, int rows, int dim, const LayerNormParams& p,
                    float eps) {
    parallel_for(pool, rows, 16, [&](int b, int e) {
        layernorm(x + size_t(b) * dim, dim, y + size_t(b) * dim, dim, e - b, dim, p.weight, p.bias, eps);
    });
}

// Rows per task of the fused LayerNorm + quantization: the thread's scratch holds this many rows.
constexpr int kNormQuantRows = 8;

void layernorm_quantize_rows(ThreadPool* pool, const float* x, int rows, int dim, const LayerNormParams& p, float eps,
                             QuantizedRows& out) {
    parallel_for(pool, rows, kNormQuantRows, [&](int b, int e) {
        // A few rows of scratch per thread (dim·kNormQuantRows floats), like the kernels' own
        // per-thread scratch, outside the Session's workspace.
        thread_local std::vector<float> scratch;
        scratch.resize(size_t(kNormQuantRows) * dim);
        for (int r = b; r < e; r += kNormQuantRows) {
            const int count = std::min(kNormQuantRows, e - r);
            layernorm(x + size_t(r) * dim, dim, scratch.data(), dim, count, dim, p.weight, p.bias, eps);
            QuantizedRows part = quantized_row_range(out, r, count);
            quantize_rows(scratch.data(), dim, count, dim, part);
        }
    });
}

void quantize_rows_parallel(ThreadPool* pool, const float* x, int ld_x, int rows, int k, QuantizedRows& out) {
    parallel_for(pool, rows, 16, [&](int b, int e) {
        QuantizedRows part = quantized_row_range(out, b, e - b);
        quantize_rows(x + size_t(b) * ld_x, ld_x, e - b, k, part);
    });
}

QuantizedRows quantized_row_range(const QuantizedRows& q, int first, int count) {
    QuantizedRows r = q;
    r.rows = count;
    r.q = q.q + size_t(first) * q.ld;
    r.scale = q.scale + first;
    r.offset = q.offset + first;
    return r;
}

size_t quantized_rows_floats(int rows, int k) {
    return size_t(rows) * size_t(quantized_row_bytes(k)) / sizeof(float) + 2 * size_t(rows);
}

QuantizedRows quantized_rows_in(float* memory, int rows, int k) {
    QuantizedRows r;
    r.rows = rows;
    r.k = k;
    r.ld = quantized_row_bytes(k);  // a multiple of 4: the scales after the values stay aligned
    r.q = reinterpret_cast<int8_t*>(memory);
    r.scale = memory + size_t(rows) * size_t(r.ld) / sizeof(float);
    r.offset = r.scale + rows;
    return r;
}

namespace {

void gemm_input(ThreadPool* pool, const LinearParams& p, const LinearInput& in, int rows, float* out, int ld_out,
                const Epilogue& ep) {
    if (p.is_int8()) {
        if (!in.q.q || in.q.k != p.int8.k || in.q.rows < rows) fail("internal: an int8 Linear without its quantized input");
        return gemm_int8(rows, in.q, p.int8, out, ld_out, ep, pool);
    }
    if (in.bf16) {
        if (!p.packed.is_bf16()) fail("internal: a rounded bf16 input to a Linear that is not bf16");
        return gemm_bf16_rounded(rows, in.bf16, in.ld, p.packed, out, ld_out, ep, pool);
    }
    if (!in.x) fail("internal: an fp32 Linear without its fp32 input");
    if (p.packed.is_bf16()) return gemm_bf16(rows, in.x, in.ld, p.packed, out, ld_out, ep, pool, in.bf16_scratch);
    gemm(rows, in.x, in.ld, p.packed, out, ld_out, ep, pool);
}

LinearInput fp32_input(const float* in, int ld_in) {
    LinearInput li;
    li.x = in;
    li.ld = ld_in;
    return li;
}

}  // namespace

void linear(ThreadPool* pool, const LinearParams& p, const LinearInput& in, int rows, float* out, int ld_out,
            Activation act) {
    Epilogue ep;
    ep.bias = p.bias;
    ep.act = act;
    gemm_input(pool, p, in, rows, out, ld_out, ep);
}

void linear(ThreadPool* pool, const LinearParams& p, const float* in, int ld_in, int rows, float* out, int ld_out,
            Activation act) {
    linear(pool, p, fp32_input(in, ld_in), rows, out, ld_out, act);
}

void linear_then(ThreadPool* pool, const LinearParams& p, const QuantizedRows& in, int rows, float* out, int ld_out,
                 const std::function<void(int r0, int r1)>& after) {
    if (!p.is_int8() || in.k != p.int8.k) fail("internal: linear_then on a mismatched layer");
    Epilogue ep;
    ep.bias = p.bias;
    gemm_int8_then(rows, in, p.int8, out, ld_out, ep, after, pool);
}

size_t int8_heads_floats(const ModelConfig& c, int batch, int tokens) {
    return size_t(batch) * c.num_heads * int8_head_floats(tokens, c.head_dim());
}

Int8Head int8_head_at(const ModelConfig& c, float* memory, int tokens, int pair) {
    return int8_head_in(memory + size_t(pair) * int8_head_floats(tokens, c.head_dim()), tokens, c.head_dim());
}

void int8_heads_clear(ThreadPool* pool, const ModelConfig& c, float* memory, int batch, int tokens) {
    parallel_for(pool, batch * c.num_heads, 1, [&](int p0, int p1) {
        for (int p = p0; p < p1; ++p) int8_head_clear(int8_head_at(c, memory, tokens, p));
    });
}

void quantize_qkv_heads(const ModelConfig& c, float* memory, const float* qkv, int tokens, int r0, int r1, bool q,
                        bool kv) {
    const int D = c.embed_dim, H = c.num_heads;
    // This runs once per row block of the qkv GEMM: the heads' layouts on the stack unless a
    // model has more heads than any timm ViT.
    constexpr int kStackHeads = 32;
    Int8Head stack_heads[kStackHeads];
    std::vector<Int8Head> more(H > kStackHeads ? size_t(H) : 0);
    Int8Head* heads = H > kStackHeads ? more.data() : stack_heads;
    int image = -1;
    for (int r = r0; r < r1; ++r) {
        const int b = r / tokens, j = r % tokens;
        if (b != image) {
            for (int h = 0; h < H; ++h) heads[h] = int8_head_at(c, memory, tokens, b * H + h);
            image = b;
        }
        const float* row = qkv + size_t(r) * 3 * D;
        int8_heads_quantize_token(heads, H, j, q ? row : nullptr, kv ? row + D : nullptr, kv ? row + 2 * D : nullptr);
    }
}

void int8_heads_finish(ThreadPool* pool, const ModelConfig& c, float* memory, int batch, int tokens) {
    parallel_for(pool, batch * c.num_heads, 1, [&](int p0, int p1) {
        for (int p = p0; p < p1; ++p) int8_head_finish(int8_head_at(c, memory, tokens, p));
    });
}

void linear_quantized(ThreadPool* pool, const LinearParams& p, const QuantizedRows& in, int rows, Activation act,
                      QuantizedRows& out) {
    if (!p.is_int8() || in.k != p.int8.k || out.k != p.int8.n) fail("internal: linear_quantized on a mismatched layer");
    Epilogue ep;
    ep.bias = p.bias;
    ep.act = act;
    gemm_int8_quantized(rows, in, p.int8, ep, out, pool);
}

void linear_to_bf16(ThreadPool* pool, const LinearParams& p, const LinearInput& in, int rows, Activation act,
                    uint16_t* out, int ld_out) {
    if (!p.packed.is_bf16() || !in.x) fail("internal: linear_to_bf16 on a layer that is not bf16");
    Epilogue ep;
    ep.bias = p.bias;
    ep.act = act;
    gemm_bf16_to_bf16(rows, in.x, in.ld, p.packed, ep, out, ld_out, pool, in.bf16_scratch);
}

void add_linear(ThreadPool* pool, const LinearParams& p, const LinearInput& in, int rows, const float* scale, float* x,
                int ld_x) {
    Epilogue ep;
    ep.bias = p.bias;
    ep.residual = x;
    ep.ld_residual = ld_x;
    ep.scale = scale;
    gemm_input(pool, p, in, rows, x, ld_x, ep);
}

void add_linear(ThreadPool* pool, const LinearParams& p, const float* in, int ld_in, int rows, const float* scale,
                float* x, int ld_x) {
    add_linear(pool, p, fp32_input(in, ld_in), rows, scale, x, ld_x);
}

int checked_token_count(int after, int before) {
    if (after < 1 || after > before) fail("pruning produced an invalid token count");
    return after;
}

int prune_step(TokenPruner& pruner, const ModelConfig& c, int layer, float* x, int batch, int tokens, const float* qkv,
               const float* attn, float* sizes, ThreadPool* pool) {
    BlockInternals s;
    s.layer = layer;
    s.batch = batch;
    s.tokens = tokens;
    s.dim = c.embed_dim;
    s.heads = c.num_heads;
    s.prefix_tokens = c.num_prefix_tokens();
    s.x = x;
    s.qkv = qkv;
    s.attn = attn;
    s.token_sizes = sizes;
    s.pool = pool;
    return checked_token_count(pruner.after_attention(s), tokens);
}

}  // namespace pomt
