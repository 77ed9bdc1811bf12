#include "vit/block_steps.h"

#include "kernels/gemm.h"
#include "kernels/norms.h"
#include "pomt/error.h"

namespace pomt {

void layernorm_rows(ThreadPool* pool, const float* x, float* y, int rows, int dim, const LayerNormParams& p,
                    float eps) {
    parallel_for(pool, rows, 16, [&](int b, int e) {
        layernorm(x + size_t(b) * dim, dim, y + size_t(b) * dim, dim, e - b, dim, p.weight, p.bias, eps);
    });
}

void linear(ThreadPool* pool, const LinearParams& p, const float* in, int ld_in, int rows, float* out, int ld_out,
            Activation act) {
    Epilogue ep;
    ep.bias = p.bias;
    ep.act = act;
    gemm(rows, in, ld_in, p.packed, out, ld_out, ep, pool);
}

void add_linear(ThreadPool* pool, const LinearParams& p, const float* in, int ld_in, int rows, const float* scale,
                float* x, int ld_x) {
    Epilogue ep;
    ep.bias = p.bias;
    ep.residual = x;
    ep.ld_residual = ld_x;
    ep.scale = scale;
    gemm(rows, in, ld_in, p.packed, x, ld_x, ep, pool);
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
