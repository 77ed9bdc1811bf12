#include "eval/dataset.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "pomt/error.h"
#include "core/file_util.h"

namespace pomt {

namespace {

std::vector<std::string> sorted_entries(const std::string& dir, bool want_dirs) {
    std::vector<std::string> names;
    DIR* d = opendir(dir.c_str());
    if (!d) fail("cannot read folder '" + dir + "': " + std::strerror(errno));
    while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n.empty() || n[0] == '.') continue;
        if (is_directory(dir + "/" + n) == want_dirs) names.push_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<LabelledImage> read_list(const std::string& list, const std::string& root_opt, int num_classes) {
    require_regular_file(list, "image list");
    std::ifstream in(list);
    if (!in) fail("cannot read image list '" + list + "'");
    std::string root = root_opt;
    if (root.empty()) root = list.find('/') == std::string::npos ? "." : list.substr(0, list.rfind('/'));
    std::vector<LabelledImage> out;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        size_t first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        size_t last = line.find_last_not_of(" \t");
        size_t split = line.find_last_of(" \t", last);
        const std::string where = "'" + list + "' line " + std::to_string(number);
        if (split == std::string::npos || split < first) fail(where + ": expected 'path label'");
        std::string path = line.substr(first, line.find_last_not_of(" \t", split) - first + 1);
        std::string label_text = line.substr(split + 1, last - split);
        char* end = nullptr;
        errno = 0;
        long label = std::strtol(label_text.c_str(), &end, 10);
        if (label_text.empty() || *end != '\0' || errno == ERANGE) fail(where + ": label '" + label_text + "' is not an integer");
        if (label < 0 || label >= num_classes)
            fail(where + ": label " + label_text + " is outside 0.." + std::to_string(num_classes - 1));
        LabelledImage img;
        img.path = path[0] == '/' ? path : root + "/" + path;
        img.label = int(label);
        img.line = number;
        out.push_back(std::move(img));
    }
    if (out.empty()) fail("image list '" + list + "' has no images");
    return out;
}

std::vector<LabelledImage> read_folder(const std::string& dir, int num_classes) {
    std::vector<std::string> classes = sorted_entries(dir, true);
    if (classes.empty()) fail("'" + dir + "' has no class sub-folders (expected one folder per class)");
    if (int(classes.size()) > num_classes)
        fail("'" + dir + "' has " + std::to_string(classes.size()) + " class folders, the model has " +
             std::to_string(num_classes) + " classes");
    std::vector<LabelledImage> out;
    for (size_t c = 0; c < classes.size(); ++c)
        for (const std::string& f : sorted_entries(dir + "/" + classes[c], false)) {
            LabelledImage img;
            img.path = dir + "/" + classes[c] + "/" + f;
            img.label = int(c);
            out.push_back(std::move(img));
        }
    if (out.empty()) fail("'" + dir + "' has no images");
    return out;
}

}  // namespace

std::vector<LabelledImage> load_dataset(const std::string& data, const std::string& root, int num_classes) {
    if (num_classes <= 0) fail("the model has no classifier head: accuracy needs class logits");
    if (is_directory(data)) {
        if (!root.empty()) fail("--root applies to a list file, not to a folder of class folders");
        return read_folder(data, num_classes);
    }
    return read_list(data, root, num_classes);
}

}  // namespace pomt
