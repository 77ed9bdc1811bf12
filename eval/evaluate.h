// Accuracy of a model (with or without a pruning schedule) on a labelled image set. Images are decoded, preprocessed
// (timm's eval transform) and classified by several worker threads at once, each with its own
// Session, so decoding overlaps inference; per-image results do not depend on the thread count.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eval/dataset.h"
#include "image/image.h"
#include "vit/model.h"
#include "prune/pruning.h"

namespace pomt {

struct EvalOptions {
    int threads = 0;       // worker threads (<= 0: every core)
    int limit = 0;         // only the first `limit` images (0: all)
    bool skip_bad = false; // count unreadable images and go on (else the first one stops the run)
    ImageLimits image_limits;
    std::function<void(int done, int total)> progress;  // called from worker threads, serialised
};

struct ImageOutcome {
    int top1 = -1;          // predicted class; -1 when the image was skipped
    bool correct1 = false, correct5 = false;
    std::string error;      // why it was skipped
};

struct EvalResult {
    int images = 0;     // asked for
    int evaluated = 0;  // classified
    int skipped = 0;
    int top1_correct = 0, top5_correct = 0;
    std::vector<ImageOutcome> per_image;  // in list order
    double top1() const { return evaluated ? 100.0 * top1_correct / evaluated : 0.0; }
    double top5() const { return evaluated ? 100.0 * top5_correct / evaluated : 0.0; }
};

// Decodes and classifies every image. Throws pomt::Error naming the image (unless skip_bad) or
// the schedule when it cannot apply to the model.
EvalResult evaluate_images(std::shared_ptr<const Model> model, const std::vector<LabelledImage>& images,
                           const PruneSchedule& schedule, const EvalOptions& options);

// For repeated evaluation of one image set (schedule search): the 8-bit eval crops, kept once.
struct PreparedImages {
    std::vector<Image> crops;
    std::vector<int> labels;
    int skipped = 0;
    // Crops whose image the eval transform enlarged (smaller than the resize, e.g. 227² under
    // timm's 248): what the search's estimate rests on, against a device's larger photos.
    int upsampled = 0;
};
PreparedImages prepare_images(const Model& model, const std::vector<LabelledImage>& images, const EvalOptions& options);
EvalResult evaluate_prepared(std::shared_ptr<const Model> model, const PreparedImages& images,
                             const PruneSchedule& schedule, const EvalOptions& options);

// Class indices of the k largest logits, largest first; ties go to the lower index.
std::vector<int> top_k_indices(const float* logits, int count, int k);

}  // namespace pomt
