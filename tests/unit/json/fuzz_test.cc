// Deterministic fuzz-style checks: the parser must return (never crash, hang or leak) on any
// bytes, and whatever it accepts must survive a Serialize/Parse round trip unchanged.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/json/parser.h"
#include "core/json/writer.h"

namespace mdu::json {
namespace {

void CheckAcceptedRoundTrips(std::string_view input) {
  auto v = Parse(input);
  if (!v) {
    EXPECT_TRUE(v.error().kind() == ErrorKind::kBadMetadata ||
                v.error().kind() == ErrorKind::kLimitExceeded);
    return;
  }
  auto back = Parse(Serialize(*v));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, *v);
  EXPECT_EQ(Canonical(*back), Canonical(*v));
}

TEST(ParserFuzzTest, RandomBytesNeverCrash) {
  std::mt19937 rng(20261123);
  // Biased towards JSON punctuation so that random input gets past the first byte.
  const std::string alphabet = "{}[]\",:-0123456789eE.\\u tfnrlsa\n\xc3\xa9\xed\xa0\xf0\x9f";
  for (int i = 0; i < 5000; ++i) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) {
      c = (rng() % 4 == 0) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    CheckAcceptedRoundTrips(s);
  }
}

TEST(ParserFuzzTest, MutatedDocumentsNeverCrash) {
  const std::string seeds[] = {
      R"({"signed":{"_type":"targets","expires":"2030-01-01T00:00:00Z","version":1,)"
      R"("targets":{"a/b.bin":{"length":12,"hashes":{"sha256":"ab"},"custom":{"v":[1,-2]}}}},)"
      R"("signatures":[{"keyid":"k","sig":"00"}]})",
      R"([null,true,false,0,-0,"\u00e9\ud83d\ude00\n\"\\",{"":[]},[[[{}]]]])",
      "{\"\xc3\xa9\":\"\xe6\x97\xa5\xf0\x9f\x98\x80\",\"b\":{\"a\":1},\"a\":2}",
  };
  std::mt19937 rng(42);
  for (const std::string& seed : seeds) {
    ASSERT_TRUE(Parse(seed)) << seed;
    for (int i = 0; i < 3000; ++i) {
      std::string s = seed;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !s.empty(); ++e) {
        size_t pos = rng() % s.size();
        switch (rng() % 5) {
          case 0:
            s[pos] = static_cast<char>(rng() % 256);
            break;
          case 1:
            s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8)));
            break;
          case 2:
            s.erase(pos, 1 + rng() % 3);
            break;
          case 3:
            s.insert(pos, 1, "{}[]\",:0\\"[rng() % 9]);
            break;
          default:
            s.resize(pos);
            break;
        }
      }
      CheckAcceptedRoundTrips(s);
    }
  }
}

}  // namespace
}  // namespace mdu::json
