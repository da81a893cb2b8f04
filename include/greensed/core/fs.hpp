// File helpers shared by every module that writes results. There is ONE way to replace a file:
// write_file_atomic (a temporary name in the same directory, then rename(2)), so a reader or a
// killed run sees the old file or the new one, never half of one. Temporary names have one form,
// "<path>.tmp.<pid>.<n>", which remove_orphan_temp_files recognises at the next start.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace greensed::core {

enum class Durability {
  kFsync,    // fsync the file before the rename and the directory after it: survives power loss
  kNoFsync,  // rename only: survives a killed process, not a power loss (bulk caches that can be
             // recomputed, where tens of thousands of fsyncs would dominate)
};

// Writes `content` to `path` atomically. Creates parent directories. Throws InputError naming the
// path and the system's reason (e.g. "No space left on device") on failure; the old file is kept
// and the temporary file removed.
void write_file_atomic(const std::string& path, std::string_view content,
                       Durability durability = Durability::kFsync);

// The temporary name write_file_atomic uses for `path` in this process (unique per call).
std::string temp_name_for(const std::string& path);

// Removes the temporary files write_file_atomic left in `dir` (and its subfolders when
// `recursive`) when the process that made them no longer runs (a kill during a write). Files of a
// live process are kept. Returns the removed paths. A missing `dir` is not an error.
std::vector<std::string> remove_orphan_temp_files(const std::string& dir, bool recursive);

// Reads a whole file; throws InputError naming the path if it cannot be read.
std::string read_file(const std::string& path);

// Appends whole lines (each ending in '\n') with one write and an fsync, so a CSV only ever gains
// whole rows. Throws InputError naming the path on failure.
void append_lines(const std::string& path, std::string_view lines);

}  // namespace greensed::core
