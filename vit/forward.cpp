// The fast forward pass: all images' tokens go through each Linear as one matrix (M = batch ·
// tokens), attention runs one task per (image, head), and every step is split over the Session's
// thread pool with a fixed partition, so results are identical run to run.
#include "vit/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/memory_limit.h"
#include "kernels/attention.h"
#include "kernels/attention_bf16.h"
#include "kernels/attention_int8.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/norms.h"
#include "pomt/error.h"
#include "vit/layers.h"

namespace pomt {

namespace {

// kQIn, kQHidden, kQPatches: an int8 model's quantized Linear inputs (kernels/quantize.h) — of the
// D-wide layers (qkv, proj, fc1, the head, the attention pool), of fc2, of the patch embedding.
// kHeads: int8 attention's quantized Q, K, V, one Int8Head per (image, head).
// kBf16In: a bf16 model's Linear input rounded to bf16 (one at a time; the widest, fc2's or the
// patch embedding's, at most). kBf16Hidden: fc2's input as fc1 rounds it on a native bf16 variant
// (then no fp32 MLP hidden matrix).
enum Slot {
    kX, kH, kQkv, kAttnOut, kMlp, kProbs, kPatches, kSizes, kLogSizes, kPooled, kPoolRows,
    kQIn, kQHidden, kQPatches, kHeads, kBf16In, kBf16Hidden, kSlots
};

// The floats of workspace that hold `rows` rows of n values rounded to bf16 (bf16_row_elems(n) each).
uint64_t bf16_rows_floats(int rows, int n) { return (uint64_t(rows) * uint64_t(bf16_row_elems(n)) + 1) / 2; }

bool wants_any_attention(const TokenPruner& pruner, int first, int count) {
    for (int layer = first; layer < first + count; ++layer)
        if (pruner.wants_attention(layer)) return true;
    return false;
}

// The rows pooling reads: the class token, and the distillation token of a distilled model.
int pooled_rows(const ModelConfig& c) { return c.distilled ? 2 : 1; }

// The floats of workspace that hold gemm_bf16_scratch_bytes(rows, k).
uint64_t bf16_input_floats(int rows, int k) {
    return (uint64_t(gemm_bf16_scratch_bytes(rows, k)) + sizeof(float) - 1) / sizeof(float);
}

// The floats each workspace slot holds for a run at `tokens` tokens (every block at that count, so
// an upper bound when pruning shrinks the sequence). Mirrors the buffer() calls below.
std::vector<uint64_t> slot_floats(const ModelConfig& c, int batch, int tokens, bool patches, bool attention,
                                  bool sizes, bool int8, bool int8_attention, bool bf16) {
    const uint64_t b = uint64_t(batch), n = uint64_t(tokens), D = uint64_t(c.embed_dim);
    const uint64_t rows = b * n;
    std::vector<uint64_t> f(kSlots, 0);
    f[kX] = rows * D;
    f[kH] = rows * D;
    f[kQkv] = rows * 3 * D;
    f[kAttnOut] = rows * D;
    f[kMlp] = rows * uint64_t(c.mlp_hidden);
    f[kProbs] = attention ? b * uint64_t(c.num_heads) * n * n : 0;
    f[kPatches] = patches ? b * uint64_t(c.num_patches()) * uint64_t(c.in_chans) * uint64_t(c.patch_size) *
                                uint64_t(c.patch_size)
                          : 0;
    f[kSizes] = sizes ? rows : 0;
    f[kLogSizes] = sizes ? rows : 0;
    f[kPooled] = b * uint64_t(pooled_rows(c)) * D;
    f[kPoolRows] = c.global_pool == "map" ? 4 * D : 0;  // the attention pool's q, o and two rows
    if (int8) {
        // No fp32 LayerNorm output or MLP hidden matrix: the blocks quantize straight from the
        // LayerNorm and from fc1's epilogue. Only 'map' and 'avg' pooling normalise whole images.
        const int image_rows = c.num_tokens();
        f[kH] = c.global_pool == "map" || c.global_pool == "avg" ? uint64_t(image_rows) * D : 0;
        f[kMlp] = 0;
        f[kQIn] = quantized_rows_floats(int(rows), c.embed_dim);
        f[kQHidden] = quantized_rows_floats(int(rows), c.mlp_hidden);
        const int K = c.in_chans * c.patch_size * c.patch_size;
        f[kQPatches] = patches ? quantized_rows_floats(batch * c.num_patches(), K) : 0;
        if (int8_attention) f[kHeads] = int8_heads_floats(c, batch, tokens);
    }
    if (bf16) {
        const int K = c.in_chans * c.patch_size * c.patch_size;
        // Where fc1 rounds fc2's input (a native variant, fc1's weights within an L2), into
        // kBf16Hidden, which replaces the fp32 hidden matrix, the inputs the GEMMs round
        // themselves are D wide.
        const bool native = gemm_bf16_rounds_rows(c.mlp_hidden, c.embed_dim);
        f[kBf16In] = std::max(bf16_input_floats(int(rows), native ? c.embed_dim : std::max(c.embed_dim, c.mlp_hidden)),
                              patches ? bf16_input_floats(batch * c.num_patches(), K) : 0);
        if (native) {
            f[kMlp] = 0;
            f[kBf16Hidden] = bf16_rows_floats(int(rows), c.mlp_hidden);
        }
    }
    return f;
}

}  // namespace

Session::Session(std::shared_ptr<const Model> model, int threads)
    : model_(std::move(model)),
      pool_(threads),
      buffers_(kSlots),
      capacity_(kSlots, 0),
      memory_limit_(default_memory_limit()) {}

uint64_t Session::workspace_bytes(const ModelConfig& config, int batch, bool attention, bool sizes, bool int8,
                                  bool int8_attention, bool bf16) {
    uint64_t floats = 0;
    for (uint64_t f :
         slot_floats(config, batch, config.num_tokens(), true, attention, sizes, int8, int8_attention, bf16))
        floats += f;
    return floats * sizeof(float);
}

void check_model_memory(const ModelConfig& config, uint64_t limit, bool int8, bool int8_attention, bool bf16) {
    check_memory_limit(Session::workspace_bytes(config, 1, false, false, int8, int8_attention, bf16), limit,
                       "model '" + config.architecture + "' (" + std::to_string(config.num_tokens()) +
                           " tokens) for one image");
}

void check_model_memory(const Model& model, uint64_t limit) {
    check_model_memory(model.config(), limit, model.is_int8(), model.int8_attention(), model.is_bf16());
}

void Session::check_workspace(int batch, int tokens, bool patches, bool attention, bool sizes) const {
    const std::vector<uint64_t> need =
        slot_floats(model_->config(), batch, tokens, patches, attention, sizes, model_->is_int8(), model_->int8_attention(),
                    model_->is_bf16());
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

QuantizedRows Session::quantized_buffer(int slot, int rows, int k) {
    return quantized_rows_in(buffer(slot, quantized_rows_floats(rows, k)), rows, k);
}

LinearInput Session::normed_input(const LinearParams& p, const LayerNormParams& norm, const float* x, int rows) {
    const ModelConfig& c = model_->config();
    const int D = c.embed_dim;
    LinearInput in;
    if (p.is_int8()) {
        in.q = quantized_buffer(kQIn, rows, D);
        layernorm_quantize_rows(&pool_, x, rows, D, norm, float(c.ln_eps), in.q);
    } else {
        float* h = buffer(kH, size_t(rows) * D);
        layernorm_rows(&pool_, x, h, rows, D, norm, float(c.ln_eps));
        in.x = h;
        in.ld = D;
        if (p.packed.is_bf16()) in.bf16_scratch = buffer(kBf16In, bf16_input_floats(rows, D));
    }
    return in;
}

LinearInput Session::input_of(const LinearParams& p, const float* x, int ld, int rows, int k, int slot) {
    LinearInput in;
    if (p.is_int8()) {
        in.q = quantized_buffer(slot, rows, k);
        quantize_rows_parallel(&pool_, x, ld, rows, k, in.q);
    } else {
        in.x = x;
        in.ld = ld;
        if (p.packed.is_bf16()) in.bf16_scratch = buffer(kBf16In, bf16_input_floats(rows, k));
    }
    return in;
}

// timm's VisionTransformer.forward: forward_features (embedding, blocks, the final norm — applied
// by the pooling here, to the pooled tokens only) then forward_head.
std::vector<float> Session::run(const float* images, int batch, const RunOptions& options) {
    const ModelConfig& c = model_->config();
    if (batch <= 0) fail("batch must be at least 1");
    TokenPruner* pruner = options.pruner;
    if (options.tokens_after_block) options.tokens_after_block->clear();
    check_workspace(batch, c.num_tokens(), true, pruner && wants_any_attention(*pruner, 0, c.depth),
                    pruner && pruner->tracks_sizes());

    float* x = buffer(kX, size_t(batch) * c.num_tokens() * c.embed_dim);
    int n = embed(images, batch, x);
    if (pruner) n = checked_token_count(pruner->after_embedding(x, batch, n, c.embed_dim), n);
    n = forward_blocks(x, batch, n, options);
    const float* pooled = pool_tokens(x, batch, n);
    return head(pooled, batch);
}

// Patch embedding (unfold each image, one GEMM per image straight into its token rows), prefix
// tokens (class, distillation, registers), position embedding, norm_pre.
int Session::embed(const float* images, int batch, float* x) {
    const Model& model = *model_;
    const ModelConfig& c = model.config();
    const int D = c.embed_dim, prefix = c.num_prefix_tokens(), np = c.num_patches(), n = c.num_tokens();
    const int K = c.in_chans * c.patch_size * c.patch_size;
    const size_t image_floats = size_t(c.in_chans) * c.img_size * c.img_size;
    float* patches = buffer(kPatches, size_t(batch) * np * K);
    parallel_for(&pool_, batch, 1, [&](int b0, int b1) {
        for (int b = b0; b < b1; ++b)
            unfold_patches(images + b * image_floats, c.in_chans, c.img_size, c.patch_size, patches + size_t(b) * np * K);
    });
    const LinearInput in = input_of(model.patch_embed, patches, K, batch * np, K, kQPatches);
    for (int b = 0; b < batch; ++b) {
        LinearInput image = in;
        if (in.x) image.x = in.x + size_t(b) * np * K;
        else image.q = quantized_row_range(in.q, b * np, np);
        linear(&pool_, model.patch_embed, image, np, x + (size_t(b) * n + prefix) * D, D);
    }

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
    if (c.pre_norm) layernorm_rows(&pool_, x, x, batch * n, D, model.norm_pre, float(c.ln_eps));
    return n;
}

// Every block in order. Pooling reads the class (and distillation) token only, so the last block of
// a class-token model computes those rows alone (run_pooled_block) when the pruner can say how many
// tokens its step would have left there.
int Session::forward_blocks(float* x, int batch, int n, const RunOptions& options) {
    const ModelConfig& c = model_->config();
    TokenPruner* pruner = options.pruner;
    float* sizes = initial_sizes(pruner, batch * n);
    const bool pooled_last_block = c.global_pool == "token" && !options.last_block_all_rows;
    for (int layer = 0; layer < c.depth; ++layer) {
        int reported = -1;
        if (layer == c.depth - 1 && pooled_last_block)
            reported = pruner ? pruner->predicted_tokens_after(layer, n) : n;
        if (reported >= 0) {
            checked_token_count(reported, n);
            run_pooled_block(layer, x, batch, n, pooled_rows(c), sizes);
            n = pooled_rows(c);
        } else {
            n = run_block(layer, x, batch, n, pruner, sizes);
            reported = n;
        }
        if (options.tokens_after_block) options.tokens_after_block->push_back(reported);
    }
    return n;
}

int Session::run_blocks(float* x, int batch, int tokens, int first, int count, TokenPruner* pruner) {
    const ModelConfig& c = model_->config();
    if (first < 0 || count < 0 || first + count > c.depth) fail("block range outside the model");
    if (tokens < 1 || batch < 1) fail("run_blocks needs at least one token and one image");
    check_workspace(batch, tokens, false, pruner && wants_any_attention(*pruner, first, count),
                    pruner && pruner->tracks_sizes());
    const size_t floats = size_t(batch) * tokens * c.embed_dim;
    float* own = buffer(kX, floats);
    if (own != x) std::memcpy(own, x, floats * sizeof(float));
    float* sizes = initial_sizes(pruner, batch * tokens);
    int n = tokens;
    for (int layer = first; layer < first + count; ++layer) n = run_block(layer, own, batch, n, pruner, sizes);
    if (own != x) std::memcpy(x, own, size_t(batch) * n * c.embed_dim * sizeof(float));
    return n;
}

// One size per token for a pruner that tracks them (ToMe), all 1 at the start; null otherwise.
float* Session::initial_sizes(const TokenPruner* pruner, int rows) {
    if (!pruner || !pruner->tracks_sizes()) return nullptr;
    float* sizes = buffer(kSizes, size_t(rows));
    std::fill(sizes, sizes + rows, 1.0f);
    return sizes;
}

float* Session::log_sizes_of(const float* sizes, int rows) {
    if (!sizes) return nullptr;
    float* log_sizes = buffer(kLogSizes, size_t(rows));
    for (int i = 0; i < rows; ++i) log_sizes[i] = std::log(sizes[i]);
    return log_sizes;
}

// timm's Block.forward: x = x + ls1·attn(norm1(x)), the pruning step, x = x + ls2·mlp(norm2(x)).
int Session::run_block(int layer, float* x, int batch, int n, TokenPruner* pruner, float* sizes) {
    const ModelConfig& c = model_->config();
    const int D = c.embed_dim, rows = batch * n;
    const BlockParams& bp = model_->blocks[layer];
    const BlockBuffers buf = start_block(bp, x, rows);
    const bool keep_probs = pruner && pruner->wants_attention(layer);
    float* probs = keep_probs ? buffer(kProbs, size_t(batch) * c.num_heads * n * n) : nullptr;
    if (model_->int8_attention()) {
        // q, k, v quantized per token and head as the qkv GEMM finishes each row block; qkv is still
        // written in fp32 (the pruners read it).
        float* heads = start_int8_heads(batch, n);
        linear_then(&pool_, bp.qkv, buf.in.q, rows, buf.qkv, 3 * D, [&](int r0, int r1) {
            quantize_qkv_heads(c, heads, buf.qkv, n, r0, r1, true, true);
        });
        run_attention_int8(heads, batch, n, n, log_sizes_of(sizes, rows), probs, buf.attn_out);
    } else {
        linear(&pool_, bp.qkv, buf.in, rows, buf.qkv, 3 * D);
        run_attention(buf.qkv, batch, n, n, log_sizes_of(sizes, rows), probs, buf.attn_out);
    }
    // Quantizing proj's input is a pass of its own: the heads write disjoint columns of each row,
    // so a row's range is known only once every head has finished.
    add_linear(&pool_, bp.proj, input_of(bp.proj, buf.attn_out, D, rows, D, kQIn), rows, bp.ls1, x, D);
    if (pruner) n = prune_step(*pruner, c, layer, x, batch, n, buf.qkv, probs, sizes, &pool_);
    run_mlp(bp, x, batch * n);
    return n;
}

// Keys and values need every token, queries and everything after the attention only the `keep`
// pooled rows: norm1 on all rows, the K/V columns of qkv on all rows, Q on the pooled rows, their
// attention rows, then the pooled rows are moved to the front (x becomes batch × keep rows) and
// the projection and MLP run on those alone.
void Session::run_pooled_block(int layer, float* x, int batch, int n, int keep, const float* sizes) {
    const ModelConfig& c = model_->config();
    const int D = c.embed_dim, rows = batch * n;
    const BlockParams& bp = model_->blocks[layer];
    const BlockBuffers buf = start_block(bp, x, rows);
    float* heads = model_->int8_attention() ? start_int8_heads(batch, n) : nullptr;
    if (D % kGemmPanel == 0) {
        // Column ranges of the packed qkv weight: whole panels, so views into the same panels.
        const PackedWeights& w = bp.qkv.packed;
        LinearParams kv, q;
        if (bp.qkv.is_int8()) {
            const Int8Weights& w8 = bp.qkv.int8;
            kv.int8 = w8;
            kv.int8.n = 2 * D;
            kv.int8.panels = w8.panels + int8_panel_bytes(D, D);
            kv.int8.scale = w8.scale + D;
            kv.int8.sum = w8.sum + D;
            q.int8 = w8;
            q.int8.n = D;
        } else {
            kv.packed = panel_columns(w, D, 2 * D);
            q.packed = panel_columns(w, 0, D);
        }
        kv.bias = bp.qkv.bias ? bp.qkv.bias + D : nullptr;
        q.bias = bp.qkv.bias;
        if (heads) {
            linear_then(&pool_, kv, buf.in.q, rows, buf.qkv + D, 3 * D, [&](int r0, int r1) {
                quantize_qkv_heads(c, heads, buf.qkv, n, r0, r1, false, true);
            });
        } else {
            linear(&pool_, kv, buf.in, rows, buf.qkv + D, 3 * D);
        }
        for (int b = 0; b < batch; ++b) {
            LinearInput image = buf.in;
            if (buf.in.x) image.x = buf.in.x + size_t(b) * n * D;
            else image.q = quantized_row_range(buf.in.q, b * n, keep);
            float* out = buf.qkv + size_t(b) * n * 3 * D;
            if (heads) {
                linear_then(&pool_, q, image.q, keep, out, 3 * D, [&](int r0, int r1) {
                    quantize_qkv_heads(c, heads, buf.qkv, n, b * n + r0, b * n + r1, true, false);
                });
            } else {
                linear(&pool_, q, image, keep, out, 3 * D);
            }
        }
    } else if (heads) {
        linear_then(&pool_, bp.qkv, buf.in.q, rows, buf.qkv, 3 * D, [&](int r0, int r1) {
            quantize_qkv_heads(c, heads, buf.qkv, n, r0, r1, true, true);
        });
    } else {
        linear(&pool_, bp.qkv, buf.in, rows, buf.qkv, 3 * D);
    }
    if (heads) run_attention_int8(heads, batch, n, keep, log_sizes_of(sizes, rows), nullptr, buf.attn_out);
    else run_attention(buf.qkv, batch, n, keep, log_sizes_of(sizes, rows), nullptr, buf.attn_out);

    // Pooled rows to the front; row b·keep + i never lies after its source b·n + i.
    for (int b = 0; b < batch; ++b)
        for (int i = 0; i < keep; ++i) {
            std::memmove(x + (size_t(b) * keep + i) * D, x + (size_t(b) * n + i) * D, size_t(D) * sizeof(float));
            std::memmove(buf.attn_out + (size_t(b) * keep + i) * D, buf.attn_out + (size_t(b) * n + i) * D,
                         size_t(D) * sizeof(float));
        }
    add_linear(&pool_, bp.proj, input_of(bp.proj, buf.attn_out, D, batch * keep, D, kQIn), batch * keep, bp.ls1, x, D);
    run_mlp(bp, x, batch * keep);
}

Session::BlockBuffers Session::start_block(const BlockParams& bp, const float* x, int rows) {
    const ModelConfig& c = model_->config();
    const int D = c.embed_dim;
    BlockBuffers b{normed_input(bp.qkv, bp.norm1, x, rows), buffer(kQkv, size_t(rows) * 3 * D),
                   buffer(kAttnOut, size_t(rows) * D)};
    return b;
}

namespace {

// Runs fn(pair, image, head, rows) over every (image, head) pair of `batch` images, split over the
// pool's threads, `rows` the pair's AttentionRows (scale, key bias, output columns, probabilities,
// query rows). One task per pair; when the pairs do not divide evenly among the threads (DeiT-Tiny:
// 3 heads on 2 threads), each pair's query rows are split too, so no thread waits for another's
// extra head.
template <class F>
void for_each_head_rows(ThreadPool* pool, const ModelConfig& c, int batch, int n, int query_rows,
                        const float* log_sizes, float* probs, float* attn_out, F&& fn) {
    const int D = c.embed_dim, H = c.num_heads, hd = c.head_dim();
    const float scale = 1.0f / std::sqrt(float(hd));
    const int threads = pool->size(), pairs = batch * H;
    const int row_parts = pairs % threads == 0 || pairs >= 4 * threads ? 1 : std::min(threads, query_rows);
    pool->run(threads, [&](int worker) {
        int t0, t1;
        split_range(pairs * row_parts, threads, worker, &t0, &t1);
        for (int t = t0; t < t1; ++t) {
            const int pair = t / row_parts, b = pair / H, hh = pair % H;
            AttentionRows rows;
            rows.scale = scale;
            rows.key_bias = log_sizes ? log_sizes + size_t(b) * n : nullptr;
            rows.out = attn_out + size_t(b) * n * D + hh * hd;
            rows.ld_out = D;
            rows.probs = probs ? probs + (size_t(b) * H + hh) * n * n : nullptr;
            split_range(query_rows, row_parts, t % row_parts, &rows.row_begin, &rows.row_end);
            fn(pair, b, hh, rows);
        }
    });
}

}  // namespace

void Session::run_attention(const float* qkv, int batch, int n, int query_rows, const float* log_sizes, float* probs,
                            float* attn_out) {
    const ModelConfig& c = model_->config();
    const int D = c.embed_dim, hd = c.head_dim();
    const bool bf16 = model_->bf16_attention();
    for_each_head_rows(&pool_, c, batch, n, query_rows, log_sizes, probs, attn_out,
                       [&](int, int b, int hh, const AttentionRows& rows) {
                           const float* base = qkv + size_t(b) * n * 3 * D;
                           AttentionHead a;
                           static_cast<AttentionRows&>(a) = rows;
                           a.tokens = n;
                           a.head_dim = hd;
                           a.q = base + hh * hd;
                           a.k = base + D + hh * hd;
                           a.v = base + 2 * D + hh * hd;
                           a.ld_qkv = 3 * D;
                           if (bf16) attention_head_bf16(a);  // Q, K, V and P rounded (kernels/attention_bf16.h)
                           else attention_head(a);
                       });
}

// int8 attention's heads for `batch` images at n tokens in workspace slot kHeads, panels zeroed.
float* Session::start_int8_heads(int batch, int n) {
    const ModelConfig& c = model_->config();
    float* mem = buffer(kHeads, int8_heads_floats(c, batch, n));
    int8_heads_clear(&pool_, c, mem, batch, n);
    return mem;
}

// run_attention with the int8 heads (kernels/attention_int8.h): V's column sums first, one task
// per head, then the same split of (image, head, query rows) over the threads.
void Session::run_attention_int8(float* heads, int batch, int n, int query_rows, const float* log_sizes,
                                 float* probs, float* attn_out) {
    const ModelConfig& c = model_->config();
    int8_heads_finish(&pool_, c, heads, batch, n);
    for_each_head_rows(&pool_, c, batch, n, query_rows, log_sizes, probs, attn_out,
                       [&](int pair, int, int, const AttentionRows& rows) {
                           const Int8Head h = int8_head_at(c, heads, n, pair);
                           AttentionHeadInt8 a;
                           static_cast<AttentionRows&>(a) = rows;
                           a.head = &h;
                           attention_head_int8(a);
                       });
}

// The MLP residual: x += ls2 · fc2(act(fc1(LN2 x))), in place, the activation fused into fc1.
void Session::run_mlp(const BlockParams& bp, float* x, int rows) {
    const ModelConfig& c = model_->config();
    const int D = c.embed_dim;
    const LinearInput in = normed_input(bp.fc1, bp.norm2, x, rows);
    add_linear(&pool_, bp.fc2, hidden(bp.fc1, bp.fc2, in, rows), rows, bp.ls2, x, D);
}

// act(fc1(in)) as fc2 reads it: quantized in fc1's epilogue when both are int8 and rounded there
// when both are bf16 on a native bf16 variant (no fp32 hidden matrix), else the fp32 hidden rows (quantized afterwards for an int8 fc2 behind an fp32 fc1).
LinearInput Session::hidden(const LinearParams& fc1, const LinearParams& fc2, const LinearInput& in, int rows) {
    const ModelConfig& c = model_->config();
    const int H = c.mlp_hidden;
    if (fc1.is_int8() && fc2.is_int8()) {
        LinearInput out;
        out.q = quantized_buffer(kQHidden, rows, H);
        linear_quantized(&pool_, fc1, in.q, rows, hidden_activation(c, fc1, fc2), out.q);
        return out;
    }
    if (fc1.packed.is_bf16() && fc2.packed.is_bf16() && gemm_bf16_rounds_rows(fc1.packed.n, fc1.packed.k)) {
        LinearInput out;
        out.ld = bf16_row_elems(H);
        uint16_t* rounded = reinterpret_cast<uint16_t*>(buffer(kBf16Hidden, bf16_rows_floats(rows, H)));
        linear_to_bf16(&pool_, fc1, in, rows, mlp_activation(c), rounded, out.ld);
        out.bf16 = rounded;
        return out;
    }
    float* mlp = buffer(kMlp, size_t(rows) * H);
    linear(&pool_, fc1, in, rows, mlp, H, mlp_activation(c));
    return input_of(fc2, mlp, H, rows, H, kQHidden);
}

// Pooling first: the final norm is per token, so only the pooled tokens need it. Returns the
// pooled features [batch × pooled rows × dim].
const float* Session::pool_tokens(const float* x, int batch, int n) {
    const Model& model = *model_;
    const ModelConfig& c = model.config();
    const int D = c.embed_dim, prefix = c.num_prefix_tokens(), rows = pooled_rows(c);
    const float eps = float(c.ln_eps);
    float* pooled = buffer(kPooled, size_t(batch) * rows * D);
    for (int b = 0; b < batch; ++b) {
        const float* xb = x + size_t(b) * n * D;
        float* pb = pooled + size_t(b) * rows * D;
        if (c.global_pool == "map") {
            // timm gives the attention pool the non-prefix tokens only (pool_include_prefix=False).
            const int m = n - prefix;
            float* hb = buffer(kH, size_t(m) * D);
            const float* tokens = xb + size_t(prefix) * D;
            if (!c.fc_norm) layernorm(tokens, D, hb, D, m, D, model.norm.weight, model.norm.bias, eps);
            else std::memcpy(hb, tokens, size_t(m) * D * sizeof(float));
            attention_pool(hb, m, pb);
            if (c.fc_norm) layernorm(pb, D, pb, D, 1, D, model.fc_norm.weight, model.fc_norm.bias, eps);
        } else if (c.global_pool == "avg") {
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
            layernorm(xb, D, pb, D, rows, D, fin.weight, fin.bias, eps);
        }
    }
    return pooled;
}

// timm's AttentionPoolLatent on one image's (normalised) tokens x [n × D] into out [D]: the latent
// query's attention over every token (the attention kernel on one query row, K and V from the kv
// projection laid out as the blocks' qkv), proj, then out + mlp(norm(out)).
void Session::attention_pool(const float* x, int n, float* out) {
    const Model& model = *model_;
    const ModelConfig& c = model.config();
    const AttnPoolParams& ap = model.attn_pool;
    const int D = c.embed_dim, heads = c.num_heads, hd = c.head_dim();
    float* rows = buffer(kPoolRows, size_t(4) * D);
    float *q = rows, *o = rows + D, *h = rows + 2 * D;
    float* qkv = buffer(kQkv, size_t(n) * 3 * D);  // columns [D, 3D): k, v; the q columns are unused
    linear(&pool_, ap.q, input_of(ap.q, ap.latent, D, 1, D, kQIn), 1, q, D);
    linear(&pool_, ap.kv, input_of(ap.kv, x, D, n, D, kQIn), n, qkv + D, 3 * D);
    parallel_for(&pool_, heads, 1, [&](int h0, int h1) {
        for (int hh = h0; hh < h1; ++hh) {
            AttentionHead a;
            a.tokens = n;
            a.head_dim = hd;
            a.scale = 1.0f / std::sqrt(float(hd));
            a.q = q + hh * hd;
            a.k = qkv + D + hh * hd;
            a.v = qkv + 2 * D + hh * hd;
            a.ld_qkv = 3 * D;
            a.out = o + hh * hd;
            a.ld_out = D;
            a.row_begin = 0;
            a.row_end = 1;
            attention_head(a);
        }
    });
    linear(&pool_, ap.proj, input_of(ap.proj, o, D, 1, D, kQIn), 1, out, D);
    layernorm(out, D, h, D, 1, D, ap.norm.weight, ap.norm.bias, float(c.ln_eps));
    add_linear(&pool_, ap.fc2, hidden(ap.fc1, ap.fc2, input_of(ap.fc1, h, D, 1, D, kQIn), 1), 1, nullptr, out, D);
}

// The classifier head on the pooled features (a distilled model averages its two heads), or the
// features themselves when the model has no classes.
std::vector<float> Session::head(const float* pooled, int batch) {
    const Model& model = *model_;
    const ModelConfig& c = model.config();
    const int D = c.embed_dim, rows = pooled_rows(c), outs = outputs();
    std::vector<float> result(size_t(batch) * outs);
    if (c.num_classes == 0) {
        for (int b = 0; b < batch; ++b) std::memcpy(&result[size_t(b) * outs], pooled + size_t(b) * rows * D, D * 4);
        return result;
    }
    linear(&pool_, model.head, input_of(model.head, pooled, rows * D, batch, D, kQIn), batch, result.data(), outs);
    if (c.distilled) {
        std::vector<float> second(size_t(batch) * outs);
        linear(&pool_, model.head_dist, input_of(model.head_dist, pooled + D, rows * D, batch, D, kQIn), batch,
               second.data(), outs);
        for (size_t i = 0; i < result.size(); ++i) result[i] = (result[i] + second[i]) / 2;
    }
    return result;
}

}  // namespace pomt
