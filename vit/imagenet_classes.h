// The 1000 ImageNet-1k class names, compiled in so conversion needs no data file.
#pragma once

namespace pomt {

// "n01440764 tench, Tinca tinca" for index 0, ...; null outside 0..999.
const char* imagenet_class_entry(int index);

}  // namespace pomt
