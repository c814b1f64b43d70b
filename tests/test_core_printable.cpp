// Strings from files reach the terminal escaped; JSON text never fails on file names or NaN.
#include <gtest/gtest.h>

#include <cmath>

#include "medport/util/json_text.hpp"
#include "medport/util/printable.hpp"

namespace {

TEST(CorePrintable, ControlCharactersAndInvalidUtf8AreEscaped) {
  EXPECT_EQ(medport::printable("torch\x1b[2J\x1b[Hclear"), "torch\\x1b[2J\\x1b[Hclear");
  EXPECT_EQ(medport::printable("bell\x07 cr\r"), "bell\\x07 cr\\x0d");
  EXPECT_EQ(medport::printable("bad\xff name"), "bad\\xff name");
  EXPECT_EQ(medport::printable("caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93");  // valid UTF-8 kept
  EXPECT_EQ(medport::printable("\xc2\x9b" "31m"), "\\xc2\\x9b31m");                       // C1 CSI
  EXPECT_EQ(medport::printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");                       // a surrogate
  EXPECT_EQ(medport::printable("two\nlines"), "two\nlines");
  EXPECT_EQ(medport::printable_line("two\nlines\t"), "two\\x0alines\\x09");
}

TEST(CorePrintable, LinesAreCappedSayingHowMuchIsLeftOut) {
  const std::string long_text(1000, 'a');
  const std::string line = medport::printable_line(long_text, 400);
  EXPECT_EQ(line, std::string(400, 'a') + " ... (600 more bytes)");
  EXPECT_EQ(medport::printable_line("short", 400), "short");
}

TEST(CoreJsonText, InvalidUtf8AndNonFiniteNumbersNeverFail) {
  nlohmann::json j = {{"path", "bad\xff.png"}, {"ef", std::nan("")}, {"hd", INFINITY}};
  const std::string text = medport::json_text(j, -1);
  EXPECT_EQ(text, "{\"ef\":null,\"hd\":null,\"path\":\"bad\xef\xbf\xbd.png\"}");
  EXPECT_NO_THROW({
    const auto parsed = nlohmann::json::parse(text);
    EXPECT_TRUE(parsed["ef"].is_null());
  });
}

}  // namespace
