// core::split_lines / split_fields: the one splitter every table reader uses.
#include <gtest/gtest.h>

#include "greensed/core/text.hpp"

namespace greensed::core {
namespace {

using Lines = std::vector<std::string_view>;

TEST(Text, LinesDropByteOrderMarkAndCarriageReturns) {
  EXPECT_EQ(split_lines("\xEF\xBB\xBF"
                        "a\tb\r\nc\n"),
            (Lines{"a\tb", "c"}));
  EXPECT_EQ(split_lines("a\n\nb"), (Lines{"a", "", "b"}));  // blank lines kept: exact line numbers
  EXPECT_EQ(split_lines(""), Lines{});
  EXPECT_EQ(split_lines("\xEF\xBB\xBF"), Lines{});
  EXPECT_EQ(split_lines("x\xEF\xBB\xBF"), (Lines{"x\xEF\xBB\xBF"}));  // only a leading mark goes
}

TEST(Text, FieldsKeepEmptyOnes) {
  EXPECT_EQ(split_fields("a\t\tb\t", '\t'), (Lines{"a", "", "b", ""}));
  EXPECT_EQ(split_fields("", '\t'), (Lines{""}));
  EXPECT_EQ(trim(" \ta \r"), "a");
  EXPECT_TRUE(is_blank(" \t\r"));
  EXPECT_FALSE(is_blank(" x"));
}

}  // namespace
}  // namespace greensed::core
