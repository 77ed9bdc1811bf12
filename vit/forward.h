// The ViT forward pass, exactly as timm computes it: patch embedding, prefix tokens, position
// embedding, optional norm_pre, blocks x + attn(LN1 x), x + mlp(LN2 x) (LayerScale where present),
// final norm, pooling, head(s). Token pruning is a step inside it, driven by a TokenPruner.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/aligned.h"
#include "kernels/threads.h"
#include "vit/model.h"

namespace pomt {

// What a pruning step sees inside block `layer`, after the attention residual and before the MLP.
struct BlockInternals {
    int layer = 0, batch = 0, tokens = 0, dim = 0, heads = 0;
    int prefix_tokens = 0;
    float* x = nullptr;              // [batch × tokens × dim], rewritten in place by the pruner
    const float* qkv = nullptr;      // [batch × tokens × 3·dim]: this block's q, k, v (timm's layout)
    const float* attn = nullptr;     // [batch × heads × tokens × tokens] post-softmax, when requested
    float* token_sizes = nullptr;    // [batch × tokens] merged-token sizes, when the pruner tracks them
    ThreadPool* pool = nullptr;      // the Session's threads, for the pruner's own parallel work
};

// A pruning method (POMT, Top-K, ToMe, random: prune/prune_*.h). One instance serves one run.
class TokenPruner {
public:
    virtual ~TokenPruner() = default;
    // Called once after the embedding (prefix + patch tokens, position embedding added): may
    // shrink the sequence there (random pruning, the profiler's model mode). Returns the new count.
    virtual int after_embedding(float* x, int batch, int tokens, int dim) {
        (void)x, (void)batch, (void)dim;
        return tokens;
    }
    // Whether block `layer` must keep its post-softmax attention matrix for after_attention.
    virtual bool wants_attention(int layer) const = 0;
    // Whether tokens carry sizes (ToMe): log(size) is then added to the attention logits.
    virtual bool tracks_sizes() const { return false; }
    // Rewrites the token sequence (and sizes) inside block `layer`; returns the new token count,
    // which must not exceed the old one.
    virtual int after_attention(BlockInternals& block) = 0;
    // The count after_attention would return at block `layer` entered by `tokens`, without running
    // it, or -1 when the pruner cannot say. Session::run computes the last block of a class-token
    // model for the pooled rows only (no pruning step changes them, and nothing reads the other
    // rows); it then skips that block's step and reports this count as the sequence after it. A
    // pruner answering -1 gets the last block in full.
    virtual int predicted_tokens_after(int layer, int tokens) const {
        (void)layer, (void)tokens;
        return -1;
    }
};

struct RunOptions {
    TokenPruner* pruner = nullptr;
    // Filled with the token count after each block when non-null (--verbose).
    std::vector<int>* tokens_after_block = nullptr;
    // The last block of a class-token model normally computes only the pooled rows (its output
    // for every other token is never read): the logits are the same, the block costs ~1/5. True
    // computes every row, as an engine without this optimisation would (for comparisons).
    bool last_block_all_rows = false;
};

// What a Linear reads (vit/layers.h): fp32 rows (x, stride ld) for an fp32 layer, quantized
// rows (kernels/quantize.h) for an int8 one (LinearParams::is_int8). A bf16 layer reads x and
// rounds it into bf16_scratch (gemm_bf16_scratch_bytes(rows, k) bytes of the Session's workspace),
// or, when null, into its calling thread's own scratch (kernels/gemm_bf16.h).
struct LinearInput {
    const float* x = nullptr;
    int ld = 0;
    QuantizedRows q;
    void* bf16_scratch = nullptr;
    // A bf16 Linear's input already rounded (rows of ld bf16 values), x null: fc2's, rounded by
    // fc1's GEMM (gemm_bf16_to_bf16).
    const uint16_t* bf16 = nullptr;
};

// Runs a shared, read-only Model. A Session owns its thread pool and its workspace, so each
// thread that runs inferences concurrently uses its own Session (the Model is shared).
class Session {
public:
    explicit Session(std::shared_ptr<const Model> model, int threads = 0);

    // images: [batch × 3 × H × W] float32, preprocessed. Returns [batch × outputs] (logits, or the
    // pooled features when num_classes is 0).
    std::vector<float> run(const float* images, int batch, const RunOptions& options = {});

    // For the profiler: runs blocks [first, first + count) on a token sequence x [batch × tokens ×
    // dim], in place. `pruner` (optional) prunes as it would inside run() (x must then hold room for
    // `tokens` rows; the sequence may shrink). Returns the token count after the last block.
    int run_blocks(float* x, int batch, int tokens, int first, int count, TokenPruner* pruner = nullptr);

    // Activation memory is checked before any buffer grows: a run whose workspace would exceed
    // the limit throws pomt::Error naming both sizes. Default: default_memory_limit().
    void set_memory_limit(uint64_t bytes) { memory_limit_ = bytes; }
    uint64_t memory_limit() const { return memory_limit_; }
    // Workspace bytes of run() on `batch` images, at most: every block at the full token count;
    // `attention` when a pruner keeps attention maps, `sizes` when it tracks token sizes (ToMe).
    // `int8` for an int8 model (Model::is_int8): its quantized Linear inputs instead of the fp32
    // LayerNorm output and MLP hidden matrix. The thread count does not enter: the kernels keep
    // their per-thread scratch themselves (thread_scratch in kernels/dispatch.h: K transposed and a
    // few rows per thread; the fused LayerNorm + quantization a few rows per thread).
    // `int8_attention` for one whose attention runs in int8 too (Model::int8_attention): the heads'
    // quantized Q, K and V. `bf16` for a bf16 model (Model::is_bf16): its Linear inputs rounded to
    // bf16 by the active bf16 variant (gemm_bf16_scratch_bytes), besides the fp32 workspace; the
    // widen variant's panels per thread are a per-thread scratch as above, and so are bf16
    // attention's packed K and V (kernels/attention_bf16.h).
    static uint64_t workspace_bytes(const ModelConfig& config, int batch, bool attention = false, bool sizes = false,
                                    bool int8 = false, bool int8_attention = false, bool bf16 = false);

    const Model& model() const { return *model_; }
    int threads() const { return pool_.size(); }
    ThreadPool& pool() { return pool_; }
    int outputs() const;

private:
    // The steps of run(), in order (timm's forward_features, then forward_head): x = the embedded
    // tokens (returns their count); every block (returns the tokens left); the pooled features
    // [batch × pooled rows × dim], final norm or fc_norm applied; the head(s) on them.
    int embed(const float* images, int batch, float* x);
    int forward_blocks(float* x, int batch, int tokens, const RunOptions& options);
    const float* pool_tokens(const float* x, int batch, int tokens);
    std::vector<float> head(const float* pooled, int batch);
    // timm's AttentionPoolLatent (global_pool 'map') on one image's tokens [n × dim] into out [dim].
    void attention_pool(const float* x, int n, float* out);

    // One transformer block on x [batch × tokens × dim]; returns the token count after pruning.
    int run_block(int layer, float* x, int batch, int tokens, TokenPruner* pruner, float* sizes);
    // Block `layer` computed for the first `keep` rows of each image only (the pooled tokens);
    // leaves x as [batch × keep × dim].
    void run_pooled_block(int layer, float* x, int batch, int tokens, int keep, const float* sizes);
    // The parts of a block: its buffers at `rows` rows with qkv's input norm1(x) computed; attention of
    // query rows [0, query_rows) of every image against all its tokens; the MLP residual (norm2
    // included).
    struct BlockBuffers {
        LinearInput in;
        float *qkv, *attn_out;
    };
    BlockBuffers start_block(const BlockParams& bp, const float* x, int rows);
    // fp32 attention, or bf16 for a model that asks for it (Model::bf16_attention).
    void run_attention(const float* qkv, int batch, int tokens, int query_rows, const float* log_sizes, float* probs,
                       float* attn_out);
    void run_mlp(const BlockParams& bp, float* x, int rows);
    // int8 attention (Model::int8_attention): the heads in the workspace, cleared (vit/layers.h),
    // and the attention over them, as run_attention.
    float* start_int8_heads(int batch, int tokens);
    void run_attention_int8(float* heads, int batch, int tokens, int query_rows, const float* log_sizes,
                            float* probs, float* attn_out);
    float* initial_sizes(const TokenPruner* pruner, int rows);  // ToMe's token sizes (all 1), or null
    float* log_sizes_of(const float* sizes, int rows);          // ToMe's log(size) key bias, or null

    float* buffer(int slot, size_t floats);
    // Quantized rows [rows × k] in workspace slot `slot`.
    QuantizedRows quantized_buffer(int slot, int rows, int k);
    // The input of Linear p: LayerNorm(x) over `rows` rows, quantized on the fly for an int8 layer.
    LinearInput normed_input(const LinearParams& p, const LayerNormParams& norm, const float* x, int rows);
    // The input of Linear p from fp32 rows x [rows × k] (stride ld): x itself, or quantized into
    // workspace slot `slot` for an int8 layer.
    LinearInput input_of(const LinearParams& p, const float* x, int ld, int rows, int k, int slot);
    // fc2's input act(fc1(in)), quantized in fc1's epilogue when both are int8.
    LinearInput hidden(const LinearParams& fc1, const LinearParams& fc2, const LinearInput& in, int rows);
    // Throws when the buffers a run needs, with what the Session already holds, exceed the limit.
    void check_workspace(int batch, int tokens, bool patches, bool attention, bool sizes) const;

    std::shared_ptr<const Model> model_;
    ThreadPool pool_;
    std::vector<AlignedFloats> buffers_;
    std::vector<size_t> capacity_;
    uint64_t memory_limit_;
};

// Refuses (pomt::Error naming both sizes) a model whose forward pass of one image on one thread
// needs more activation memory than `limit` bytes (`int8`, `bf16`: see workspace_bytes).
void check_model_memory(const ModelConfig& config, uint64_t limit, bool int8 = false, bool int8_attention = false,
                        bool bf16 = false);
// The same for a loaded model, its precision and attention taken from it.
void check_model_memory(const Model& model, uint64_t limit);

// The readable reference forward pass: plain loops, double accumulation, one thread, no pruning.
// Every fast kernel and the Session are tested against it. An int8 model's Linears are simulated
// (input quantized per row with quantize_rows_reference, weights dequantized).
std::vector<float> forward_reference(const Model& model, const float* images, int batch);

// Writes the unfolded patches of one image: row p = patch p's pixels in (channel, y, x) order,
// matching the conv weight [D, C, P, P] viewed as [D, C·P·P].
void unfold_patches(const float* image, int channels, int img_size, int patch, float* out);

}  // namespace pomt
