#include "vit/block_steps.h"

#include <vector>

#include "kernels/gemm.h"
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

namespace {

// FIRST CUT (to be replaced by quantization fused into the producers): the int8 product quantizes
// its input rows here.
void gemm_any(ThreadPool* pool, const LinearParams& p, const float* in, int ld_in, int rows, float* out, int ld_out,
              const Epilogue& ep) {
    if (!p.is_int8()) return gemm(rows, in, ld_in, p.packed, out, ld_out, ep, pool);
    thread_local std::vector<int8_t> q;
    thread_local std::vector<float> scale, offset;
    QuantizedRows a;
    a.rows = rows;
    a.k = p.int8.k;
    a.ld = quantized_row_bytes(a.k);
    q.resize(size_t(rows) * a.ld);
    scale.resize(size_t(rows));
    offset.resize(size_t(rows));
    a.q = q.data();
    a.scale = scale.data();
    a.offset = offset.data();
    quantize_rows(in, ld_in, rows, a.k, a);
    gemm_int8(rows, a, p.int8, out, ld_out, ep, pool);
}

}  // namespace

void linear(ThreadPool* pool, const LinearParams& p, const float* in, int ld_in, int rows, float* out, int ld_out,
            Activation act) {
    Epilogue ep;
    ep.bias = p.bias;
    ep.act = act;
    gemm_any(pool, p, in, ld_in, rows, out, ld_out, ep);
}

void add_linear(ThreadPool* pool, const LinearParams& p, const float* in, int ld_in, int rows, const float* scale,
                float* x, int ld_x) {
    Epilogue ep;
    ep.bias = p.bias;
    ep.residual = x;
    ep.ld_residual = ld_x;
    ep.scale = scale;
    gemm_any(pool, p, in, ld_in, rows, x, ld_x, ep);
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
