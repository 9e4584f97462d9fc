#include "core/json/parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace mdu::json {
namespace {

using ::testing::HasSubstr;

Error ParseError(std::string_view text, const ParseLimits& limits = {}) {
  auto r = Parse(text, limits);
  EXPECT_FALSE(r) << "accepted: " << text;
  return r ? Error() : r.error();
}

void ExpectBad(std::string_view text, std::string_view message_part = "") {
  Error e = ParseError(text);
  EXPECT_EQ(e.kind(), ErrorKind::kBadMetadata) << text << " -> " << e.message();
  EXPECT_THAT(e.message(), HasSubstr(std::string(message_part))) << text;
  EXPECT_THAT(e.message(), HasSubstr("byte offset")) << text;
}

TEST(ParserTest, ParsesScalars) {
  EXPECT_EQ(*Parse("null"), Value());
  EXPECT_EQ(*Parse("true"), Value(true));
  EXPECT_EQ(*Parse(" false \n"), Value(false));
  EXPECT_EQ(*Parse("0"), Value(0));
  EXPECT_EQ(*Parse("-12"), Value(-12));
  EXPECT_EQ(*Parse("\"a\""), Value("a"));
  EXPECT_EQ(*Parse("9223372036854775807"), Value(INT64_MAX));
  EXPECT_EQ(*Parse("-9223372036854775808"), Value(INT64_MIN));
}

TEST(ParserTest, NegativeZeroIsIntegerZero) {
  auto v = Parse("-0");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->is_int());
  EXPECT_EQ(v->as_int(), 0);
}

TEST(ParserTest, ParsesContainersAndSortsMembers) {
  auto v = Parse(" { \"b\" : [1, {\"y\":2,\"x\":[]}], \"a\": {} } ");
  ASSERT_TRUE(v) << v.error().message();
  Value expected =
      Value::MakeObject({{"a", Value::EmptyObject()},
                         {"b", Array{1, Value::MakeObject({{"x", Array{}}, {"y", 2}})}}});
  EXPECT_EQ(*v, expected);
  EXPECT_EQ(v->as_object()[0].first, "a");
}

TEST(ParserTest, DecodesEscapes) {
  auto v = Parse(R"("\"\\\/\b\f\n\r\t\u0041\u00e9\u65e5\ud83d\ude00\u0000")");
  ASSERT_TRUE(v) << v.error().message();
  using namespace std::string_literals;
  EXPECT_EQ(v->as_string(), "\"\\/\b\f\n\r\tA\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\0"s);
}

TEST(ParserTest, AcceptsValidUtf8) {
  std::string s =
      "\"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\"";
  auto v = Parse(s);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->as_string(), s.substr(1, s.size() - 2));
}

TEST(ParserTest, RejectsEmptyInput) {
  ExpectBad("", "empty");
  ExpectBad("   ", "end of input");
}

TEST(ParserTest, RejectsLeadingBom) { ExpectBad("\xEF\xBB\xBF{}", "byte-order mark"); }

TEST(ParserTest, RejectsTrailingContent) {
  ExpectBad("{} x", "trailing");
  ExpectBad("1 2", "trailing");
  ExpectBad("[]]", "trailing");
  EXPECT_TRUE(Parse("{} \n\t\r "));
}

TEST(ParserTest, RejectsOverlongUtf8) {
  ExpectBad("\"\xc0\xaf\"", "UTF-8");
  ExpectBad("\"\xc1\xbf\"", "UTF-8");
  ExpectBad("\"\xe0\x80\xaf\"", "UTF-8");
  ExpectBad("\"\xf0\x80\x80\xaf\"", "UTF-8");
}

TEST(ParserTest, RejectsSurrogatesEncodedInUtf8) {
  ExpectBad("\"\xed\xa0\x80\"", "UTF-8");
  ExpectBad("\"\xed\xbf\xbf\"", "UTF-8");
}

TEST(ParserTest, RejectsCodePointsAboveMax) {
  ExpectBad("\"\xf4\x90\x80\x80\"", "UTF-8");
  ExpectBad("\"\xf5\x80\x80\x80\"", "UTF-8");
  ExpectBad("\"\xff\"", "UTF-8");
}

TEST(ParserTest, RejectsTruncatedAndStrayUtf8) {
  ExpectBad("\"\xe6\x97\"", "UTF-8");
  ExpectBad("\"\xf0\x9f\x98", "UTF-8");
  ExpectBad("\"\x80\"", "UTF-8");
  ExpectBad("\"\xc3", "UTF-8");
  ExpectBad("\xc3\xa9", "unexpected character");  // non-ASCII outside a string
}

TEST(ParserTest, RejectsLoneSurrogateEscapes) {
  ExpectBad(R"("\ud83d")", "surrogate");
  ExpectBad(R"("\ud83dx")", "surrogate");
  ExpectBad(R"("\ude00")", "surrogate");
  ExpectBad(R"("\ud83d\u0041")", "surrogate");
  ExpectBad(R"("\ud83d\ud83d")", "surrogate");
  ExpectBad(R"("\u12")", "escape");
  ExpectBad(R"("\u12g4")", "escape");
  ExpectBad(R"("\x")", "escape");
}

TEST(ParserTest, RejectsRawControlCharacters) {
  ExpectBad("\"a\nb\"", "control character");
  ExpectBad(std::string("\"a\0b\"", 5), "control character");
  ExpectBad("\"\x1f\"", "control character");
  EXPECT_TRUE(Parse("\"\x7f\""));  // DEL is not a control character in JSON
}

TEST(ParserTest, RejectsDuplicateKeys) {
  Error sorted = ParseError(R"({"a":1,"a":2})");
  EXPECT_EQ(sorted.kind(), ErrorKind::kBadMetadata);
  EXPECT_THAT(sorted.message(), HasSubstr("duplicate object key \"a\" at byte offset 7"));
  ExpectBad(R"({"b":1,"a":2,"b":3})", "duplicate");
  ExpectBad(R"({"x":{"k":1,"j":2,"k":3}})", "duplicate");
  // Escapes decode before comparison: "\u0061" is "a".
  ExpectBad(R"({"a":1,"\u0061":2})", "duplicate");
}

TEST(ParserTest, DuplicateKeyMessageIsBoundedAndPrintable) {
  std::string key = "\\n" + std::string(100, 'k') + "\xc3\xa9";
  Error e = ParseError("{\"" + key + "\":1,\"" + key + "\":2}");
  EXPECT_EQ(e.kind(), ErrorKind::kBadMetadata);
  EXPECT_THAT(e.message(), HasSubstr("duplicate object key \"?" + std::string(63, 'k') + "\"..."));
  EXPECT_LT(e.message().size(), 160u);
}

TEST(ParserTest, RejectsFloatingPointNumbers) {
  for (const char* text : {"1.5", "0.0", "-0.0", "1e3", "1E-2", "1.0", "[1, 2.5]",
                           "123456789012345678901234.5", "1e400"}) {
    ExpectBad(text, "floating-point numbers are not allowed in canonical JSON");
  }
}

TEST(ParserTest, RejectsIntegersOutsideInt64) {
  ExpectBad("9223372036854775808", "outside the signed 64-bit range");
  ExpectBad("-9223372036854775809", "outside the signed 64-bit range");
  ExpectBad("18446744073709551616", "outside the signed 64-bit range");
  ExpectBad("99999999999999999999999999", "outside the signed 64-bit range");
}

TEST(ParserTest, RejectsMalformedNumbers) {
  ExpectBad("01", "leading zero");
  ExpectBad("-01", "leading zero");
  ExpectBad("00", "leading zero");
  ExpectBad("-", "invalid number");
  ExpectBad("- 1", "invalid number");
  ExpectBad("+1", "unexpected character");
  ExpectBad(".5", "unexpected character");
  ExpectBad("0x10", "trailing");
}

TEST(ParserTest, RejectsStructuralErrors) {
  ExpectBad("[1,]");
  ExpectBad("[1 2]", "expected ','");
  ExpectBad("{\"a\" 1}", "expected ':'");
  ExpectBad("{\"a\":1,}", "expected a string key");
  ExpectBad("{a:1}", "expected a string key");
  ExpectBad("[", "end of input");
  ExpectBad("{\"a\":1", "unterminated object");
  ExpectBad("[1", "unterminated array");
  ExpectBad("\"abc", "unterminated string");
  ExpectBad("tru", "invalid literal");
  ExpectBad("nul", "invalid literal");
  ExpectBad("True", "unexpected character");
  ExpectBad("'a'", "unexpected character");
  ExpectBad("\v1", "unexpected character");  // only the four RFC 8259 whitespace bytes
}

TEST(ParserTest, ReportsByteOffset) {
  Error e = ParseError("[1, 2, x]");
  EXPECT_THAT(e.message(), HasSubstr("at byte offset 7"));
}

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(ParserTest, DepthLimit) {
  EXPECT_TRUE(Parse(Nested(64)));
  Error e = ParseError(Nested(65));
  EXPECT_EQ(e.kind(), ErrorKind::kLimitExceeded);
  ParseLimits limits;
  limits.max_depth = 2;
  EXPECT_TRUE(Parse("{\"a\":[1]}", limits));
  EXPECT_EQ(ParseError("{\"a\":[{}]}", limits).kind(), ErrorKind::kLimitExceeded);
  EXPECT_EQ(ParseError("[[[1]]]", limits).kind(), ErrorKind::kLimitExceeded);
  limits.max_depth = 0;
  EXPECT_TRUE(Parse("1", limits));
  EXPECT_EQ(ParseError("[]", limits).kind(), ErrorKind::kLimitExceeded);
}

TEST(ParserTest, DepthLimitIsCappedSoHugeLimitsCannotOverflowTheStack) {
  ParseLimits limits;
  limits.max_depth = SIZE_MAX;
  EXPECT_TRUE(Parse(Nested(kMaxSupportedDepth), limits));
  EXPECT_EQ(ParseError(Nested(100000), limits).kind(), ErrorKind::kLimitExceeded);
}

TEST(ParserTest, SizeLimit) {
  ParseLimits limits;
  limits.max_bytes = 8;
  EXPECT_TRUE(Parse("[1,2,3]", limits));
  EXPECT_TRUE(Parse("[1,2,34]", limits));
  Error e = ParseError("[1,2,345]", limits);
  EXPECT_EQ(e.kind(), ErrorKind::kLimitExceeded);
  EXPECT_THAT(e.message(), HasSubstr("9 bytes"));
}

}  // namespace
}  // namespace mdu::json
