// The absolute position embedding of a ViT resampled to another patch grid, exactly as timm does
// when a model is created at another img_size and its checkpoint loaded: checkpoint_filter_fn →
// timm.layers.resample_abs_pos_embed(posemb, new_size, num_prefix_tokens = 0 if no_embed_class
// else num_prefix_tokens, interpolation='bicubic', antialias=True). The prefix rows (class,
// distillation, register tokens) are kept as they are; the patch rows, viewed as a (D, g, g) image,
// go through torch.nn.functional.interpolate(mode='bicubic', antialias=True, align_corners=False),
// i.e. ATen's separable antialiased kernel (aten/src/ATen/native/cpu/UpSampleKernel.cpp):
//   - per axis, output i is centred at c = scale·(i + ½) with scale = in/out; it reads the inputs
//     j in [⌊c − s + ½⌋, ⌊c + s + ½⌋) ∩ [0, in) with the support s = 2·max(scale, 1);
//   - input j weighs K((j − c + ½) / max(scale, 1)), normalised to sum 1, with Keys' cubic
//     K(x) = (a+2)|x|³ − (a+3)|x|² + 1 for |x| < 1, a|x|³ − 5a|x|² + 8a|x| − 4a for |x| < 2, else 0,
//     and a = −0.5 (HelperInterpCubic::aa_filter: the antialiased path is PIL's filter, also when
//     upsampling; −0.75 is only the non-antialiased one);
//   - the width (the grid's column index) is resampled first, then the height.
// Arithmetic is float32 with ATen's float/double promotions, term by term, so the result is ATen's
// up to the fused multiply-adds its AVX2 build may form (last-bit differences; this file is compiled
// without FMA). timm casts the result back to the checkpoint's dtype; for an F16/BF16
// checkpoint pomt keeps the float32 values (within half an F16/BF16 ulp of timm's).
#pragma once
#include <vector>

namespace pomt {

// One axis of the resize: output i reads `count[i]` inputs from `first[i]` with `weights[i]`.
struct ResampleAxis {
    std::vector<int> first, count;
    std::vector<std::vector<float>> weights;
};
ResampleAxis antialiased_bicubic_axis(int in_size, int out_size);

// `pos` holds (prefix + old_grid²) rows of `dim` floats (timm's (1, tokens, D) pos_embed); the
// result holds (prefix + new_grid²) rows. Equal grids return `pos` unchanged, as timm does.
std::vector<float> resample_pos_embed(const std::vector<float>& pos, int prefix, int old_grid, int new_grid, int dim);

}  // namespace pomt
