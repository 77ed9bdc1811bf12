// The fast forward pass: all images' tokens go through each Linear as one matrix (M = batch ·
// tokens), attention runs one task per (image, head), and every step is split over the Session's
// thread pool with a fixed partition, so results are identical run to run.
#include "vit/forward.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/norms.h"
#include "pomt/error.h"
#include "core/memory_limit.h"

namespace pomt {

namespace {

enum Slot { kX, kH, kQkv, kAttnOut, kMlp, kProbs, kScratch, kPatches, kSizes, kLogSizes, kPooled, kSlots };

void layernorm_rows(ThreadPool* pool, const float* x, float* y, int rows, int dim, const LayerNormParams& p,
                    float eps) {
    parallel_for(pool, rows, 16, [&](int b, int e) {
        layernorm(x + size_t(b) * dim, dim, y + size_t(b) * dim, dim, e - b, dim, p.weight, p.bias, eps);
    });
}

bool wants_any_attention(const TokenPruner& pruner, int first, int count) {
    for (int layer = first; layer < first + count; ++layer)
        if (pruner.wants_attention(layer)) return true;
    return false;
}

// The floats each workspace slot holds for a run at `tokens` tokens (every block at that count, so
// an upper bound when pruning shrinks the sequence). Mirrors the buffer() calls below.
std::vector<uint64_t> slot_floats(const ModelConfig& c, int batch, int tokens, int threads, bool patches,
                                  bool attention, bool sizes) {
    const uint64_t b = uint64_t(batch), n = uint64_t(tokens), D = uint64_t(c.embed_dim);
    const uint64_t rows = b * n;
    std::vector<uint64_t> f(kSlots, 0);
    f[kX] = rows * D;
    f[kH] = rows * D;
    f[kQkv] = rows * 3 * D;
    f[kAttnOut] = rows * D;
    f[kMlp] = rows * uint64_t(c.mlp_hidden);
    f[kProbs] = attention ? b * uint64_t(c.num_heads) * n * n : 0;
    f[kScratch] = uint64_t(std::max(threads, 1)) * uint64_t(attention_scratch_floats(tokens));
    f[kPatches] = patches ? b * uint64_t(c.num_patches()) * uint64_t(c.in_chans) * uint64_t(c.patch_size) *
                                uint64_t(c.patch_size)
                          : 0;
    f[kSizes] = sizes ? rows : 0;
    f[kLogSizes] = sizes ? rows : 0;
    f[kPooled] = b * (c.distilled ? 2 : 1) * D;
    return f;
}

}  // namespace

Session::Session(std::shared_ptr<const Model> model, int threads)
    : model_(std::move(model)),
      pool_(threads),
      buffers_(kSlots),
      capacity_(kSlots, 0),
      memory_limit_(default_memory_limit()) {}

uint64_t Session::workspace_bytes(const ModelConfig& config, int batch, int threads, bool attention, bool sizes) {
    uint64_t floats = 0;
    for (uint64_t f : slot_floats(config, batch, config.num_tokens(), threads, true, attention, sizes)) floats += f;
    return floats * sizeof(float);
}

void check_model_memory(const ModelConfig& config, uint64_t limit) {
    check_memory_limit(Session::workspace_bytes(config, 1, 1), limit,
                       "model '" + config.architecture + "' (" + std::to_string(config.num_tokens()) +
                           " tokens) for one image");
}

void Session::check_workspace(int batch, int tokens, bool patches, bool attention, bool sizes) const {
    const std::vector<uint64_t> need =
        slot_floats(model_->config(), batch, tokens, pool_.size(), patches, attention, sizes);
    uint64_t floats = 0;
    for (int s = 0; s < kSlots; ++s) floats += std::max<uint64_t>(need[size_t(s)], capacity_[size_t(s)]);
    check_memory_limit(floats * sizeof(float), memory_limit_,
                       "the forward pass of " + std::to_string(batch) + (batch == 1 ? " image" : " images") + " at " +
                           std::to_string(tokens) + " tokens");
}

int Session::outputs() const {
    const ModelConfig& c = model_->config();
    return c.num_classes > 0 ? c.num_classes : c.embed_dim;
}

float* Session::buffer(int slot, size_t floats) {
    if (capacity_[slot] < floats) {
        buffers_[slot] = alloc_floats(floats);
        capacity_[slot] = floats;
    }
    return buffers_[slot].get();
}

const char* block_op_name(BlockOp op) {
    static const char* const names[] = {"norm1", "qkv",   "scores", "softmax", "attn_v", "proj",
                                        "prune", "norm2", "fc1",    "gelu",    "fc2"};
    return names[int(op)];
}

int Session::run_blocks(float* x, int batch, int tokens, int first, int count, OpTimes* times, TokenPruner* pruner) {
    const ModelConfig& c = model_->config();
    if (first < 0 || count < 0 || first + count > c.depth) fail("block range outside the model");
    if (tokens < 1 || batch < 1) fail("run_blocks needs at least one token and one image");
    check_workspace(batch, tokens, false, times || (pruner && wants_any_attention(*pruner, first, count)),
                    pruner && pruner->tracks_sizes());
    const size_t floats = size_t(batch) * tokens * c.embed_dim;
    float* own = buffer(kX, floats);
    if (own != x) std::memcpy(own, x, floats * sizeof(float));
    float* sizes = nullptr;
    if (pruner && pruner->tracks_sizes()) {
        sizes = buffer(kSizes, size_t(batch) * tokens);
        std::fill(sizes, sizes + size_t(batch) * tokens, 1.0f);
    }
    int n = tokens;
    for (int layer = first; layer < first + count; ++layer) n = run_block(layer, own, batch, n, pruner, sizes, times);
    if (own != x) std::memcpy(x, own, size_t(batch) * n * c.embed_dim * sizeof(float));
    return n;
}

// Attention in three timed passes for the profiler's op mode (see OpTimes): per (image, head)
// scores = scale·Q·Kᵀ + key_bias, then softmax of every row, then P·V — each with the fast kernels.
template <typename Lap>
static void attention_unfused_impl(const Model& model, ThreadPool* pool, const float* qkv, int batch, int n,
                                   const float* log_sizes, float* probs, float* out, Lap& lap) {
    const ModelConfig& c = model.config();
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

float* Session::log_sizes_of(const float* sizes, int rows) {
    if (!sizes) return nullptr;
    float* log_sizes = buffer(kLogSizes, size_t(rows));
    for (int i = 0; i < rows; ++i) log_sizes[i] = std::log(sizes[i]);
    return log_sizes;
}

Session::BlockBuffers Session::start_block(const BlockParams& bp, const float* x, int rows) {
    const ModelConfig& c = model_->config();
    const int D = c.embed_dim;
    BlockBuffers b{buffer(kH, size_t(rows) * D), buffer(kQkv, size_t(rows) * 3 * D), buffer(kAttnOut, size_t(rows) * D)};
    layernorm_rows(&pool_, x, b.h, rows, D, bp.norm1, float(c.ln_eps));
    return b;
}

void Session::run_attention(const float* qkv, int batch, int n, int query_rows, const float* log_sizes, float* probs,
                            float* attn_out) {
    const ModelConfig& c = model_->config();
    const int D = c.embed_dim, heads = c.num_heads, hd = c.head_dim();
    const float scale = 1.0f / std::sqrt(float(hd));
    ThreadPool* pool = &pool_;
    const int scratch_per_task = attention_scratch_floats(n);
    float* scratch = buffer(kScratch, size_t(pool->size()) * scratch_per_task);
    // One task per (image, head), split into contiguous ranges per thread. When the heads do not
    // divide evenly among the threads (DeiT-Tiny: 3 heads on 2 threads), each head's query rows
    // are split too, so no thread waits for another's extra head.
    const int threads = pool->size(), pairs = batch * heads;
    const int row_parts = pairs % threads == 0 || pairs >= 4 * threads ? 1 : std::min(threads, query_rows);
    pool->run(threads, [&](int worker) {
        int t0, t1;
        split_range(pairs * row_parts, threads, worker, &t0, &t1);
        for (int t = t0; t < t1; ++t) {
            const int pair = t / row_parts, b = pair / heads, hh = pair % heads;
            const float* base = qkv + size_t(b) * n * 3 * D;
            AttentionHead a;
            a.tokens = n;
            a.head_dim = hd;
            a.scale = scale;
            a.q = base + hh * hd;
            a.k = base + D + hh * hd;
            a.v = base + 2 * D + hh * hd;
            a.ld_qkv = 3 * D;
            a.key_bias = log_sizes ? log_sizes + size_t(b) * n : nullptr;
            a.out = attn_out + size_t(b) * n * D + hh * hd;
            a.ld_out = D;
            a.probs = probs ? probs + (size_t(b) * heads + hh) * n * n : nullptr;
            a.scratch = scratch + size_t(worker) * scratch_per_task;
            split_range(query_rows, row_parts, t % row_parts, &a.row_begin, &a.row_end);
            attention_head(a);
        }
    });
}

// The attention residual: x += ls1 · (attn_out·Wprojᵀ + b), in place.
void Session::run_projection(const BlockParams& bp, const float* attn_out, float* x, int rows) {
    const int D = model_->config().embed_dim;
    Epilogue proj_ep;
    proj_ep.bias = bp.proj.bias;
    proj_ep.residual = x;
    proj_ep.ld_residual = D;
    proj_ep.scale = bp.ls1;
    gemm(rows, attn_out, D, bp.proj.packed, x, D, proj_ep, &pool_);
}

// The MLP residual: x += ls2 · fc2(gelu(fc1(LN2 x))), in place.
template <typename Lap>
void Session::run_mlp(const BlockParams& bp, float* x, int rows, bool time_gelu, Lap& lap) {
    const ModelConfig& c = model_->config();
    const int D = c.embed_dim, H = c.mlp_hidden;
    ThreadPool* pool = &pool_;
    float* h = buffer(kH, size_t(rows) * D);
    layernorm_rows(pool, x, h, rows, D, bp.norm2, float(c.ln_eps));
    lap(BlockOp::Norm2);
    float* mlp = buffer(kMlp, size_t(rows) * H);
    Epilogue fc1_ep;
    fc1_ep.bias = bp.fc1.bias;
    fc1_ep.gelu = !time_gelu;  // fused, except when the profiler times GELU on its own
    gemm(rows, h, D, bp.fc1.packed, mlp, H, fc1_ep, pool);
    lap(BlockOp::Fc1);
    if (time_gelu) {
        parallel_for(pool, rows, 16, [&](int b, int e) { gelu_inplace(mlp + size_t(b) * H, size_t(e - b) * H); });
        lap(BlockOp::Gelu);
    }
    Epilogue fc2_ep;
    fc2_ep.bias = bp.fc2.bias;
    fc2_ep.residual = x;
    fc2_ep.ld_residual = D;
    fc2_ep.scale = bp.ls2;
    gemm(rows, mlp, H, bp.fc2.packed, x, D, fc2_ep, pool);
    lap(BlockOp::Fc2);
}

int Session::run_block(int layer, float* x, int batch, int n, TokenPruner* pruner, float* sizes, OpTimes* times) {
    const Model& model = *model_;
    const ModelConfig& c = model.config();
    const int D = c.embed_dim, heads = c.num_heads, prefix = c.num_prefix_tokens();
    ThreadPool* pool = &pool_;
    // Per-operation timing only when asked: the clock reads are the only cost otherwise skipped.
    auto clock_start = std::chrono::steady_clock::now();
    auto lap = [&](BlockOp op) {
        if (!times) return;
        auto now = std::chrono::steady_clock::now();
        times->seconds[int(op)] += std::chrono::duration<double>(now - clock_start).count();
        clock_start = now;
    };
    const BlockParams& bp = model.blocks[layer];
    const int rows = batch * n;
    const BlockBuffers buf = start_block(bp, x, rows);
    float *const qkv = buf.qkv, *const attn_out = buf.attn_out;
    lap(BlockOp::Norm1);
    Epilogue qkv_ep;
    qkv_ep.bias = bp.qkv.bias;
    gemm(rows, buf.h, D, bp.qkv.packed, qkv, 3 * D, qkv_ep, pool);
    lap(BlockOp::Qkv);

    const bool keep_probs = pruner && pruner->wants_attention(layer);
    float* probs = keep_probs ? buffer(kProbs, size_t(batch) * heads * n * n) : nullptr;
    const float* log_sizes = log_sizes_of(sizes, batch * n);
    if (times)
        attention_unfused_impl(model, pool, qkv, batch, n, log_sizes,
                               probs ? probs : buffer(kProbs, size_t(batch) * heads * n * n), attn_out, lap);
    else
        run_attention(qkv, batch, n, n, log_sizes, probs, attn_out);
    run_projection(bp, attn_out, x, rows);
    lap(BlockOp::Proj);

    if (pruner) {
        BlockInternals s;
        s.layer = layer;
        s.batch = batch;
        s.tokens = n;
        s.dim = D;
        s.heads = heads;
        s.prefix_tokens = prefix;
        s.x = x;
        s.qkv = qkv;
        s.attn = probs;
        s.token_sizes = sizes;
        s.pool = pool;
        int after = pruner->after_attention(s);
        if (after < 1 || after > n) fail("pruning produced an invalid token count");
        n = after;
    }
    lap(BlockOp::Prune);
    run_mlp(bp, x, batch * n, times != nullptr, lap);
    return n;
}

// Keys and values need every token, queries and everything after the attention only the `keep`
// pooled rows: norm1 on all rows, the K/V columns of qkv on all rows, Q on the pooled rows, their
// attention rows, then the pooled rows are moved to the front (x becomes batch × keep rows) and
// the projection and MLP run on those alone.
void Session::run_pooled_block(int layer, float* x, int batch, int n, int keep, const float* sizes) {
    const Model& model = *model_;
    const ModelConfig& c = model.config();
    const int D = c.embed_dim;
    ThreadPool* pool = &pool_;
    const BlockParams& bp = model.blocks[layer];
    const int rows = batch * n;
    const BlockBuffers buf = start_block(bp, x, rows);
    const float* h = buf.h;
    float *const qkv = buf.qkv, *const attn_out = buf.attn_out;

    const PackedWeights& w = bp.qkv.packed;
    if (D % kGemmPanel == 0) {
        // Column ranges of the packed qkv weight: whole panels, so views into the same panels.
        const size_t q_panel_floats = size_t(D) * D;  // D/16 panels of D rows × 16
        PackedWeights kv = borrow_panels(w.panels + q_panel_floats, 2 * D, D);
        if (w.original) kv.original = w.original + size_t(D) * D;
        PackedWeights q = borrow_panels(w.panels, D, D);
        q.original = w.original;
        Epilogue kv_ep, q_ep;
        kv_ep.bias = bp.qkv.bias ? bp.qkv.bias + D : nullptr;
        q_ep.bias = bp.qkv.bias;
        gemm(rows, h, D, kv, qkv + D, 3 * D, kv_ep, pool);
        for (int b = 0; b < batch; ++b)
            gemm(keep, h + size_t(b) * n * D, D, q, qkv + size_t(b) * n * 3 * D, 3 * D, q_ep, pool);
    } else {
        Epilogue qkv_ep;
        qkv_ep.bias = bp.qkv.bias;
        gemm(rows, h, D, w, qkv, 3 * D, qkv_ep, pool);
    }
    run_attention(qkv, batch, n, keep, log_sizes_of(sizes, rows), nullptr, attn_out);

    // Pooled rows to the front; row b·keep + i never lies after its source b·n + i.
    for (int b = 0; b < batch; ++b)
        for (int i = 0; i < keep; ++i) {
            std::memmove(x + (size_t(b) * keep + i) * D, x + (size_t(b) * n + i) * D, size_t(D) * sizeof(float));
            std::memmove(attn_out + (size_t(b) * keep + i) * D, attn_out + (size_t(b) * n + i) * D,
                         size_t(D) * sizeof(float));
        }
    run_projection(bp, attn_out, x, batch * keep);
    auto no_lap = [](BlockOp) {};
    run_mlp(bp, x, batch * keep, false, no_lap);
}

std::vector<float> Session::run(const float* images, int batch, const RunOptions& options) {
    const Model& model = *model_;
    const ModelConfig& c = model.config();
    if (batch <= 0) fail("batch must be at least 1");
    const int D = c.embed_dim, prefix = c.num_prefix_tokens(), np = c.num_patches();
    const int K = c.in_chans * c.patch_size * c.patch_size;
    const float eps = float(c.ln_eps);
    const size_t image_floats = size_t(c.in_chans) * c.img_size * c.img_size;
    ThreadPool* pool = &pool_;
    TokenPruner* pruner = options.pruner;
    if (options.tokens_after_block) options.tokens_after_block->clear();

    int n = c.num_tokens();
    check_workspace(batch, n, true, pruner && wants_any_attention(*pruner, 0, c.depth), pruner && pruner->tracks_sizes());
    float* x = buffer(kX, size_t(batch) * n * D);

    // Patch embedding: unfold each image, one GEMM per image straight into its token rows.
    float* patches = buffer(kPatches, size_t(batch) * np * K);
    parallel_for(pool, batch, 1, [&](int b0, int b1) {
        for (int b = b0; b < b1; ++b)
            unfold_patches(images + b * image_floats, c.in_chans, c.img_size, c.patch_size, patches + size_t(b) * np * K);
    });
    for (int b = 0; b < batch; ++b) {
        Epilogue ep;
        ep.bias = model.patch_embed.bias;
        gemm(np, patches + size_t(b) * np * K, K, model.patch_embed.packed, x + (size_t(b) * n + prefix) * D, D, ep, pool);
    }
    // Prefix tokens (class, distillation, registers) and the position embedding.
    const int pos_first = c.no_embed_class ? prefix : 0;
    for (int b = 0; b < batch; ++b) {
        float* xb = x + size_t(b) * n * D;
        int t = 0;
        if (c.class_token) std::memcpy(xb + size_t(t++) * D, model.cls_token, D * sizeof(float));
        if (c.distilled) std::memcpy(xb + size_t(t++) * D, model.dist_token, D * sizeof(float));
        if (c.reg_tokens) std::memcpy(xb + size_t(t) * D, model.reg_token, size_t(c.reg_tokens) * D * sizeof(float));
        for (int i = pos_first; i < n; ++i) {
            const float* pe = model.pos_embed + size_t(i - pos_first) * D;
            float* row = xb + size_t(i) * D;
            for (int d = 0; d < D; ++d) row[d] += pe[d];
        }
    }
    if (c.pre_norm) layernorm_rows(pool, x, x, batch * n, D, model.norm_pre, eps);
    if (pruner) {
        int after = pruner->after_embedding(x, batch, n, D);
        if (after < 1 || after > n) fail("pruning produced an invalid token count");
        n = after;
    }

    float* sizes = nullptr;
    if (pruner && pruner->tracks_sizes()) {
        sizes = buffer(kSizes, size_t(batch) * n);
        std::fill(sizes, sizes + size_t(batch) * n, 1.0f);
    }

    // Pooling reads the class (and distillation) token only: the last block computes those rows.
    const int pooled_rows = c.distilled ? 2 : 1;
    const bool pooled_last_block = c.global_pool == "token" && !options.last_block_all_rows;
    for (int layer = 0; layer < c.depth; ++layer) {
        int reported = -1;
        if (layer == c.depth - 1 && pooled_last_block)
            reported = pruner ? pruner->predicted_tokens_after(layer, n) : n;
        if (reported >= 0) {
            if (reported < 1 || reported > n) fail("pruning produced an invalid token count");
            run_pooled_block(layer, x, batch, n, pooled_rows, sizes);
            n = pooled_rows;
        } else {
            n = run_block(layer, x, batch, n, pruner, sizes, nullptr);
            reported = n;
        }
        if (options.tokens_after_block) options.tokens_after_block->push_back(reported);
    }

    // Pooling first: the final norm is per token, so only the pooled tokens need it.
    float* pooled = buffer(kPooled, size_t(batch) * pooled_rows * D);
    for (int b = 0; b < batch; ++b) {
        const float* xb = x + size_t(b) * n * D;
        float* pb = pooled + size_t(b) * pooled_rows * D;
        if (c.global_pool == "avg") {
            // Normalise every token first (unless fc_norm replaces the final norm), then average.
            float* hb = buffer(kH, size_t(n) * D);
            if (!c.fc_norm) layernorm(xb, D, hb, D, n, D, model.norm.weight, model.norm.bias, eps);
            else std::memcpy(hb, xb, size_t(n) * D * sizeof(float));
            for (int d = 0; d < D; ++d) {
                float s = 0;
                for (int i = prefix; i < n; ++i) s += hb[size_t(i) * D + d];
                pb[d] = s / float(n - prefix);
            }
            if (c.fc_norm) layernorm(pb, D, pb, D, 1, D, model.fc_norm.weight, model.fc_norm.bias, eps);
        } else {
            const LayerNormParams& fin = c.fc_norm ? model.fc_norm : model.norm;
            layernorm(xb, D, pb, D, pooled_rows, D, fin.weight, fin.bias, eps);
        }
    }
    const int outs = outputs();
    std::vector<float> result(size_t(batch) * outs);
    if (c.num_classes == 0) {
        for (int b = 0; b < batch; ++b) std::memcpy(&result[size_t(b) * outs], pooled + size_t(b) * pooled_rows * D, D * 4);
        return result;
    }
    Epilogue head_ep;
    head_ep.bias = model.head.bias;
    gemm(batch, pooled, pooled_rows * D, model.head.packed, result.data(), outs, head_ep, pool);
    if (c.distilled) {
        std::vector<float> second(size_t(batch) * outs);
        Epilogue dist_ep;
        dist_ep.bias = model.head_dist.bias;
        gemm(batch, pooled + D, pooled_rows * D, model.head_dist.packed, second.data(), outs, dist_ep, pool);
        for (size_t i = 0; i < result.size(); ++i) result[i] = (result[i] + second[i]) / 2;
    }
    return result;
}

}  // namespace pomt
