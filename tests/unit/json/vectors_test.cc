// Golden vectors produced by securesystemslib's encode_canonical: the canonical bytes must match
// exactly, or signatures and key IDs would differ from every other TUF implementation.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/common/hex.h"
#include "core/json/parser.h"
#include "core/json/writer.h"

namespace mdu::json {
namespace {

Value LoadTestData(const std::string& name) {
  std::ifstream in(std::string(MDU_TESTDATA_DIR) + "/cjson/" + name, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  auto v = Parse(buf.str());
  EXPECT_TRUE(v) << name << ": " << v.error().message();
  return v ? std::move(v).value() : Value();
}

TEST(CanonicalVectorsTest, MatchSecuresystemslib) {
  Value vectors = LoadTestData("vectors.json");
  ASSERT_TRUE(vectors.is_array());
  ASSERT_GE(vectors.as_array().size(), 50u);
  for (const Value& c : vectors.as_array()) {
    auto name = RequireString(c, "name", "vector");
    ASSERT_TRUE(name);
    SCOPED_TRACE(*name);
    const Value* input = c.Find("input");
    ASSERT_NE(input, nullptr);
    auto expected = RequireString(c, "canonical_hex", *name);
    ASSERT_TRUE(expected);
    EXPECT_EQ(HexEncode(Canonical(*input)), *expected);
  }
}

TEST(CanonicalVectorsTest, SerializeRoundTripsAtEveryIndent) {
  Value vectors = LoadTestData("vectors.json");
  for (const Value& c : vectors.as_array()) {
    SCOPED_TRACE(c.Find("name")->as_string());
    const Value& input = *c.Find("input");
    for (int indent : {0, 1, 2, 4}) {
      auto back = Parse(Serialize(input, indent));
      ASSERT_TRUE(back) << back.error().message();
      EXPECT_EQ(*back, input) << "indent " << indent;
    }
  }
}

TEST(CanonicalVectorsTest, RejectedInputsFailAsFloatingPoint) {
  Value rejected = LoadTestData("rejected.json");
  ASSERT_TRUE(rejected.is_array());
  ASSERT_FALSE(rejected.as_array().empty());
  for (const Value& c : rejected.as_array()) {
    SCOPED_TRACE(c.Find("name")->as_string());
    auto input = RequireString(c, "input_json", "rejected case");
    ASSERT_TRUE(input);
    auto r = Parse(*input);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind(), ErrorKind::kBadMetadata);
    EXPECT_NE(r.error().message().find("floating-point"), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace mdu::json
