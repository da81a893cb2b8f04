// File helpers shared by every module that writes results: writes are atomic (temp file in the same
// directory, fsync, rename), so a reader or a killed run never sees half a file.
#pragma once

#include <string>
#include <string_view>

namespace greensed::core {

// Writes `content` to `path` atomically. Creates parent directories. Throws InputError naming the
// path and the system's reason (e.g. "No space left on device") on failure; the old file is kept.
void write_file_atomic(const std::string& path, std::string_view content);

// Reads a whole file; throws InputError naming the path if it cannot be read.
std::string read_file(const std::string& path);

// Appends whole lines (each ending in '\n') with one write and an fsync, so a CSV only ever gains
// whole rows. Throws InputError naming the path on failure.
void append_lines(const std::string& path, std::string_view lines);

}  // namespace greensed::core
