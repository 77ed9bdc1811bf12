// Labelled image sets for accuracy evaluation: a Caffe/ImageNet list ("relative/path label" per
// line, as val.txt or ../shared/data/imagenet-val-1300/labels.txt) or a folder with one sub-folder
// per class (torchvision's ImageFolder: classes in sorted name order).
#pragma once
#include <string>
#include <vector>

namespace pomt {

struct LabelledImage {
    std::string path;  // ready to open
    int label = 0;
    int line = 0;      // line in the list (0 for a folder tree)
};

// `data` is a list file or a class-folder tree; `root` (list files only) is the folder paths are
// relative to (default: the list's own folder). Labels must be in [0, num_classes). Throws
// pomt::Error naming the file and line for a missing list, an unreadable line, a label out of
// range or an empty set.
std::vector<LabelledImage> load_dataset(const std::string& data, const std::string& root, int num_classes);

}  // namespace pomt
