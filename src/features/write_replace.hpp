// Private to features: replace a file via a temporary name and rename(2), without fsync. Bulk
// outputs (cache clips, .npy dumps) use it: a killed process never leaves half a file, and tens of
// thousands of fsyncs are avoided. Indexes and results use core::write_file_atomic instead.
#pragma once

#include <string>
#include <string_view>

namespace greensed::features {

void write_file_replace(const std::string& path, std::string_view bytes);

}  // namespace greensed::features
