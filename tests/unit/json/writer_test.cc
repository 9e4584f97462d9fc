#include "core/json/writer.h"

#include <gtest/gtest.h>

#include "core/json/parser.h"

namespace mdu::json {
namespace {

const char kPem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAED7VPVBtWVmAJmMoeE5XCxRe+qRAO\n"
    "-----END PUBLIC KEY-----\n";

Value Sample() {
  return Value::MakeObject({{"b", Array{1, Value::MakeObject({{"y", "a\nb\x01\x7f\xc3\xa9"}})}},
                            {"a", Value::EmptyObject()},
                            {"c", Array{}}});
}

TEST(WriterTest, CanonicalIsCompactSortedAndEscapesOnlyQuoteAndBackslash) {
  Value v = Value::MakeObject({{"z", "q\"b\\s/\t\n"}, {"a", Array{true, false, nullptr, -3}}});
  EXPECT_EQ(Canonical(v), "{\"a\":[true,false,null,-3],\"z\":\"q\\\"b\\\\s/\t\n\"}");
}

TEST(WriterTest, AppendCanonicalAppends) {
  std::string out = "prefix:";
  AppendCanonical(Value(Array{1, "x"}), &out);
  EXPECT_EQ(out, "prefix:[1,\"x\"]");
}

TEST(WriterTest, CanonicalIntegersAtTheLimits) {
  EXPECT_EQ(Canonical(Value(INT64_MIN)), "-9223372036854775808");
  EXPECT_EQ(Canonical(Value(INT64_MAX)), "9223372036854775807");
  EXPECT_EQ(Canonical(Value(0)), "0");
}

TEST(WriterTest, PemKeyStandardEscapesNewlineCanonicalWritesRawByte) {
  Value key = Value::MakeObject({{"keyval", Value::MakeObject({{"public", kPem}})}});
  std::string canonical = Canonical(key);
  std::string standard = Serialize(key);
  EXPECT_NE(canonical.find("-----\nMFkw"), std::string::npos);
  EXPECT_EQ(canonical.find("\\n"), std::string::npos);
  EXPECT_NE(standard.find("-----\\nMFkw"), std::string::npos);
  EXPECT_EQ(standard.find('\n'), std::string::npos);
  auto back = Parse(standard);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, key);
}

TEST(WriterTest, SerializeCompact) {
  EXPECT_EQ(Serialize(Sample()),
            "{\"a\":{},\"b\":[1,{\"y\":\"a\\nb\\u0001\x7f\xc3\xa9\"}],\"c\":[]}");
  EXPECT_EQ(Serialize(Sample(), -4), Serialize(Sample(), 0));
}

TEST(WriterTest, SerializeIndentMatchesPythonJsonDumps) {
  // python3: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False)
  EXPECT_EQ(Serialize(Sample(), 2),
            "{\n  \"a\": {},\n  \"b\": [\n    1,\n    {\n      \"y\": "
            "\"a\\nb\\u0001\x7f\xc3\xa9\"\n    }\n  ],\n  \"c\": []\n}");
  EXPECT_EQ(Serialize(Value(Array{}), 2), "[]");
  EXPECT_EQ(Serialize(Value::EmptyObject(), 2), "{}");
  EXPECT_EQ(Serialize(Value("x"), 2), "\"x\"");
}

TEST(WriterTest, SerializeEscapesEveryControlCharacter) {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  std::string out = Serialize(Value(all + "\"\\"));
  EXPECT_EQ(out,
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
            "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
            "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\\"");
  auto back = Parse(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->as_string(), all + "\"\\");
}

}  // namespace
}  // namespace mdu::json
