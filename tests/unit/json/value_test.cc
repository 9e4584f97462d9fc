#include "core/json/value.h"

#include <gtest/gtest.h>

namespace mdu::json {
namespace {

std::vector<std::string> Keys(const Value& v) {
  std::vector<std::string> keys;
  for (const auto& m : v.as_object()) keys.push_back(m.first);
  return keys;
}

TEST(ValueTest, DefaultIsNullAndTypesMatch) {
  EXPECT_TRUE(Value().is_null());
  EXPECT_TRUE(Value(nullptr).is_null());
  EXPECT_TRUE(Value(true).is_bool());
  EXPECT_EQ(Value(int64_t{-5}).as_int(), -5);
  EXPECT_EQ(Value(7).as_int(), 7);
  EXPECT_EQ(Value(uint32_t{4000000000u}).as_int(), 4000000000);
  EXPECT_EQ(Value("abc").as_string(), "abc");
  EXPECT_EQ(Value(std::string_view("x")).type(), Type::kString);
  EXPECT_TRUE(Value(Array{1, "a"}).is_array());
  EXPECT_TRUE(Value::EmptyObject().is_object());
  EXPECT_EQ(TypeName(Type::kInt), "integer");
  EXPECT_EQ(TypeName(Type::kObject), "object");
}

TEST(ValueTest, MakeObjectSortsByUnsignedKeyBytes) {
  // char_traits<char>::lt compares as unsigned char, so "\xc3\xa9" (é) sorts after "z" even
  // where char is signed: that is code point order, what canonical JSON needs.
  Value v = Value::MakeObject({{"z", 1}, {"\xc3\xa9", 2}, {"B", 3}, {"a", 4}, {"", 5}});
  EXPECT_EQ(Keys(v), (std::vector<std::string>{"", "B", "a", "z", "\xc3\xa9"}));
}

TEST(ValueTest, MakeObjectDuplicateKeysLastWins) {
  Value v = Value::MakeObject({{"a", 1}, {"b", 2}, {"a", 3}});
  ASSERT_EQ(v.as_object().size(), 2u);
  EXPECT_EQ(v.Find("a")->as_int(), 3);
}

TEST(ValueTest, FindUsesBinarySearch) {
  Object members;
  for (int i = 0; i < 1000; ++i) members.emplace_back("k" + std::to_string(i), i);
  Value v = Value::MakeObject(std::move(members));
  for (int i = 0; i < 1000; ++i) {
    const Value* f = v.Find("k" + std::to_string(i));
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->as_int(), i);
  }
  EXPECT_EQ(v.Find("k"), nullptr);
  EXPECT_EQ(v.Find("zzz"), nullptr);
  EXPECT_EQ(Value(1).Find("a"), nullptr);
}

TEST(ValueTest, TakeMovesContentOutAndLeavesAnEmptyValueOfTheSameType) {
  Value text(std::string(100, 'a'));
  EXPECT_EQ(text.TakeString(), std::string(100, 'a'));
  ASSERT_TRUE(text.is_string());
  EXPECT_TRUE(text.as_string().empty());

  Value object = Value::MakeObject({{"b", 2}, {"a", 1}});
  Object members = object.TakeObject();
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].first, "a");  // still sorted
  ASSERT_TRUE(object.is_object());
  EXPECT_TRUE(object.as_object().empty());
  EXPECT_EQ(object.Find("a"), nullptr);
}

TEST(ValueTest, SetEraseFindKeepOrder) {
  Value v = Value::MakeObject({{"m", 1}});
  v.Set("c", 2);
  v.Set("x", 3);
  v.Set("a", 4);
  v.Set("m", "replaced");
  EXPECT_EQ(Keys(v), (std::vector<std::string>{"a", "c", "m", "x"}));
  EXPECT_EQ(v.Find("m")->as_string(), "replaced");
  EXPECT_TRUE(v.Erase("c"));
  EXPECT_FALSE(v.Erase("c"));
  EXPECT_FALSE(v.Erase("nope"));
  EXPECT_EQ(Keys(v), (std::vector<std::string>{"a", "m", "x"}));
  EXPECT_EQ(v.Find("c"), nullptr);
  v.Set("x", Value());
  v.Find("x")->Set("inner", true);  // a null member becomes an object in place
  EXPECT_TRUE(v.Find("x")->Find("inner")->as_bool());
}

TEST(ValueTest, SetOnNullMakesObject) {
  Value v;
  v.Set("b", 1);
  v.Set("a", 2);
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(Keys(v), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(Value(3).Erase("a"));
}

TEST(ValueTest, EqualityIsDeep) {
  Value a = Value::MakeObject({{"x", Array{1, 2, Value::MakeObject({{"y", nullptr}})}}});
  Value b = Value::MakeObject({{"x", Array{1, 2, Value::MakeObject({{"y", nullptr}})}}});
  EXPECT_EQ(a, b);
  b.Find("x")->as_array().push_back(3);
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(Value(1) == Value(true));
}

TEST(RequireTest, ReturnsTypedFields) {
  Value v = Value::MakeObject({{"version", 3}, {"name", "n"}, {"flag", true}});
  EXPECT_EQ(*RequireInt(v, "version", "root"), 3);
  EXPECT_EQ(*RequireString(v, "name", "root"), "n");
  EXPECT_EQ(*RequireBool(v, "flag", "root"), true);
  auto field = RequireField(v, "name", Type::kString, "root");
  ASSERT_TRUE(field);
  EXPECT_EQ(*field, v.Find("name"));
}

TEST(RequireTest, WrongTypeNamesFieldAndTypes) {
  Value v = Value::MakeObject({{"version", "3"}, {"x", Array{}}});
  auto r = RequireInt(v, "version", "snapshot meta \"targets.json\"");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kBadMetadata);
  EXPECT_EQ(r.error().message(),
            "snapshot meta \"targets.json\": field \"version\" must be an integer, got string");
  EXPECT_EQ(RequireString(v, "x", "w").error().message(),
            "w: field \"x\" must be a string, got array");
  EXPECT_EQ(RequireBool(v, "version", "").error().message(),
            "field \"version\" must be a boolean, got string");
  EXPECT_EQ(RequireField(v, "x", Type::kObject, "w").error().message(),
            "w: field \"x\" must be an object, got array");
}

TEST(RequireTest, MissingFieldAndNonObject) {
  Value v = Value::EmptyObject();
  auto r = RequireInt(v, "version", "root");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kBadMetadata);
  EXPECT_EQ(r.error().message(), "root: missing field \"version\"");
  auto n = RequireInt(Value(Array{}), "version", "root");
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().kind(), ErrorKind::kBadMetadata);
  EXPECT_EQ(n.error().message(), "root: must be an object, got array");
}

TEST(ValueDeathTest, MismatchedAccessorAborts) {
  EXPECT_DEATH((void)Value(1).as_string(), "");
  EXPECT_DEATH(
      {
        Value v(1);
        v.Set("a", 1);
      },
      "");
}

}  // namespace
}  // namespace mdu::json
