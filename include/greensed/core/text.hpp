// The one line and field splitter of every table greensed reads (label tables, detection and score
// tables, durations, the synthesiser's embedded tables), so that they all agree on line endings,
// a UTF-8 byte-order mark and blank lines.
#pragma once

#include <string_view>
#include <vector>

namespace greensed::core {

// The UTF-8 byte-order mark (EF BB BF) that some editors put at the start of a saved file.
inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// `text` without a leading UTF-8 byte-order mark.
std::string_view strip_bom(std::string_view text);

// Splits `text` into lines: a leading byte-order mark is dropped, lines end at '\n', a '\r' before
// it (Windows line ends) is dropped, and a final line without '\n' is kept. An empty text has no
// lines; blank lines are kept (as empty views) so that line numbers stay exact (line i + 1 of the
// file is element i).
std::vector<std::string_view> split_lines(std::string_view text);

// Splits one line at every `separator` ("a\t\tb" has three fields, the middle one empty; an empty
// line has one empty field). `fields` is cleared first.
void split_fields(std::string_view line, char separator, std::vector<std::string_view>& fields);
std::vector<std::string_view> split_fields(std::string_view line, char separator);

// `s` without leading and trailing spaces, tabs and '\r'.
std::string_view trim(std::string_view s);

// Whether `s` holds nothing but spaces, tabs and '\r'.
bool is_blank(std::string_view s);

}  // namespace greensed::core
