#include "core/json/value.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

namespace mdu::json {
namespace {

// Misuse of an unchecked accessor is a bug in our code, never an input error: stop at once
// instead of reading the wrong variant alternative.
template <class T, class V>
auto& Get(V& v) {
  auto* p = std::get_if<T>(&v);
  if (p == nullptr) std::abort();
  return *p;
}

bool KeyLess(const Member& a, const Member& b) { return a.first < b.first; }

std::string Prefix(std::string_view where) {
  return where.empty() ? std::string() : std::string(where) + ": ";
}

}  // namespace

std::string_view TypeNameWithArticle(Type type) {
  switch (type) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "a boolean";
    case Type::kInt:
      return "an integer";
    case Type::kString:
      return "a string";
    case Type::kArray:
      return "an array";
    case Type::kObject:
      return "an object";
  }
  return "an unknown type";
}

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "boolean";
    case Type::kInt:
      return "integer";
    case Type::kString:
      return "string";
    case Type::kArray:
      return "array";
    case Type::kObject:
      return "object";
  }
  return "unknown";
}

Value::Value(const Value& other) = default;
Value& Value::operator=(const Value& other) = default;
Value::Value(Value&& other) noexcept = default;
Value& Value::operator=(Value&& other) noexcept = default;
Value::~Value() = default;

Value Value::MakeObject(Object members) {
  // Stable sort so that among equal keys the last given stays last; keeping it makes "last wins".
  if (!std::is_sorted(members.begin(), members.end(), KeyLess)) {
    std::stable_sort(members.begin(), members.end(), KeyLess);
  }
  auto dup =
      std::adjacent_find(members.begin(), members.end(),
                         [](const Member& a, const Member& b) { return a.first == b.first; });
  if (dup != members.end()) {
    Object unique;
    unique.reserve(members.size());
    for (auto& m : members) {
      if (!unique.empty() && unique.back().first == m.first) {
        unique.back().second = std::move(m.second);
      } else {
        unique.push_back(std::move(m));
      }
    }
    members = std::move(unique);
  }
  return Value(ObjectTag{}, std::move(members));
}

Value Value::MakeObject(std::initializer_list<Member> members) {
  return MakeObject(Object(members));
}

bool Value::as_bool() const { return Get<bool>(v_); }
int64_t Value::as_int() const { return Get<int64_t>(v_); }
const std::string& Value::as_string() const { return Get<std::string>(v_); }
const Array& Value::as_array() const { return Get<Array>(v_); }
Array& Value::as_array() { return Get<Array>(v_); }
const Object& Value::as_object() const { return Get<Object>(v_); }

std::string Value::TakeString() { return std::exchange(Get<std::string>(v_), std::string()); }
Object Value::TakeObject() { return std::exchange(Get<Object>(v_), Object()); }

const Value* Value::Find(std::string_view key) const {
  const auto* members = std::get_if<Object>(&v_);
  if (members == nullptr) return nullptr;
  auto it = std::lower_bound(
      members->begin(), members->end(), key,
      [](const Member& m, std::string_view k) { return std::string_view(m.first) < k; });
  if (it == members->end() || it->first != key) return nullptr;
  return &it->second;
}

Value* Value::Find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value&>(*this).Find(key));
}

void Value::Set(std::string key, Value value) {
  if (is_null()) v_.emplace<Object>();
  auto& members = Get<Object>(v_);
  auto it = std::lower_bound(members.begin(), members.end(), key,
                             [](const Member& m, const std::string& k) { return m.first < k; });
  if (it != members.end() && it->first == key) {
    it->second = std::move(value);
  } else {
    members.emplace(it, std::move(key), std::move(value));
  }
}

bool Value::Erase(std::string_view key) {
  auto* members = std::get_if<Object>(&v_);
  if (members == nullptr) return false;
  auto it = std::lower_bound(
      members->begin(), members->end(), key,
      [](const Member& m, std::string_view k) { return std::string_view(m.first) < k; });
  if (it == members->end() || it->first != key) return false;
  members->erase(it);
  return true;
}

Result<const Value*> RequireField(const Value& object, std::string_view key, Type type,
                                  std::string_view where) {
  if (!object.is_object()) {
    return MakeError(ErrorKind::kBadMetadata, Prefix(where) + "must be an object, got " +
                                                  std::string(TypeName(object.type())));
  }
  const Value* field = object.Find(key);
  if (field == nullptr) {
    return MakeError(ErrorKind::kBadMetadata,
                     Prefix(where) + "missing field \"" + std::string(key) + "\"");
  }
  if (field->type() != type) {
    return MakeError(ErrorKind::kBadMetadata, Prefix(where) + "field \"" + std::string(key) +
                                                  "\" must be " +
                                                  std::string(TypeNameWithArticle(type)) + ", got " +
                                                  std::string(TypeName(field->type())));
  }
  return field;
}

Result<int64_t> RequireInt(const Value& object, std::string_view key, std::string_view where) {
  MDU_ASSIGN_OR_RETURN(const Value* field, RequireField(object, key, Type::kInt, where));
  return field->as_int();
}

Result<std::string> RequireString(const Value& object, std::string_view key,
                                  std::string_view where) {
  MDU_ASSIGN_OR_RETURN(const Value* field, RequireField(object, key, Type::kString, where));
  return field->as_string();
}

Result<bool> RequireBool(const Value& object, std::string_view key, std::string_view where) {
  MDU_ASSIGN_OR_RETURN(const Value* field, RequireField(object, key, Type::kBool, where));
  return field->as_bool();
}

}  // namespace mdu::json
