// The library's own handles on the public API's objects (include/pomt/pomt.h), not installed: the
// CLI, the searches, the Python binding, the fuzzers and the tests wrap a model loaded through
// vit/ and a schedule parsed through prune/, and read them back. A user of the installed API sees
// only pomt.h.
#pragma once
#include <memory>

#include "pomt/pomt.h"
#include "prune/pruning.h"
#include "vit/model.h"

namespace pomt {

struct ApiAccess {
    // Refuses a model that cannot run one image within options.max_memory, as Classifier::load.
    static Classifier classifier(std::shared_ptr<const Model> model, const LoadOptions& options = {});
    static const std::shared_ptr<const Model>& model(const Classifier& classifier);
    static Schedule schedule(const PruneSchedule& steps);
    // The steps as written (none for an empty schedule).
    static const PruneSchedule& steps(const Schedule& schedule);
};

inline Classifier classifier_from_model(std::shared_ptr<const Model> model, const LoadOptions& options = {}) {
    return ApiAccess::classifier(std::move(model), options);
}
inline const std::shared_ptr<const Model>& model_of(const Classifier& c) { return ApiAccess::model(c); }
inline Schedule schedule_from_steps(const PruneSchedule& steps) { return ApiAccess::schedule(steps); }
inline const PruneSchedule& steps_of(const Schedule& s) { return ApiAccess::steps(s); }

}  // namespace pomt
