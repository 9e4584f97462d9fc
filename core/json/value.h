// An immutable-by-default JSON document model restricted to what TUF metadata can hold:
// null, booleans, 64-bit integers, UTF-8 strings, arrays and objects. There is no floating-point
// type on purpose: canonical JSON (OLPC / securesystemslib) refuses floats, so a document that
// holds one can never be signed or verified and is rejected at parse time.
//
// Objects keep their members sorted by key bytes (UTF-8 byte order equals code point order,
// which is what canonical JSON sorts by) and keys are unique. Lookup is a binary search, so a
// targets role with 100,000 entries needs no second index.
//
// Ownership: a Value owns its children. Pointers returned by Find/At stay valid until the
// owning Value is modified or destroyed. Thread-safety: concurrent const access is safe.
#ifndef MDU_CORE_JSON_VALUE_H_
#define MDU_CORE_JSON_VALUE_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/common/error.h"

namespace mdu::json {

class Value;
class Parser;  // parser.cc: builds objects already sorted and checked without re-sorting
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Object = std::vector<Member>;  // invariant inside a Value: sorted by key bytes, unique

enum class Type : uint8_t { kNull, kBool, kInt, kString, kArray, kObject };

// "null", "boolean", "integer", "string", "array", "object": for error messages.
std::string_view TypeName(Type type);
// "null", "a boolean", "an integer", ...: for "must be <...>" messages.
std::string_view TypeNameWithArticle(Type type);

class Value {
 public:
  Value() = default;  // null
  Value(std::nullptr_t) {}                                  // NOLINT
  Value(bool b) : v_(b) {}                                  // NOLINT
  Value(int i) : v_(static_cast<int64_t>(i)) {}             // NOLINT
  Value(int64_t i) : v_(i) {}                               // NOLINT
  Value(uint32_t i) : v_(static_cast<int64_t>(i)) {}        // NOLINT
  Value(std::string s) : v_(std::move(s)) {}                // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}         // NOLINT
  Value(const char* s) : v_(std::string(s)) {}              // NOLINT
  Value(Array a) : v_(std::move(a)) {}                      // NOLINT

  // Copies and moves are defined out of line: inlined std::variant copies and moves make
  // g++ 12 -O2 report false -Wmaybe-uninitialized warnings in callers' code (vector growth,
  // initializer lists), which -Werror turns into build failures.
  Value(const Value& other);
  Value& operator=(const Value& other);
  Value(Value&& other) noexcept;
  Value& operator=(Value&& other) noexcept;
  ~Value();

  // Builds an object from members in any order: sorts them by key bytes. Duplicate keys are a
  // programming error here (the last one wins); the parser rejects duplicates in input.
  static Value MakeObject(Object members);
  static Value MakeObject(std::initializer_list<Member> members);
  static Value EmptyObject() { return MakeObject(Object{}); }

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Accessors without a Result: the type must match. A mismatch is a programming error and
  // aborts the process in every build type (fail fast rather than read the wrong alternative).
  bool as_bool() const;
  int64_t as_int() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;

  // Consuming accessors, for converters that turn a parsed document they own into a typed model
  // and drop it: the content moves instead of being copied (a 100,000-entry targets role holds
  // 20 MB of digests). The Value is left an empty string / empty object. Mismatch aborts.
  std::string TakeString();
  Object TakeObject();

  // Object member lookup by binary search; nullptr when absent or when this is not an object.
  const Value* Find(std::string_view key) const;
  Value* Find(std::string_view key);

  // Object editing; keeps the sort invariant. Set replaces an existing member or inserts; on a
  // null Value it first turns it into an empty object, on any other non-object it aborts.
  // Erase returns whether a member was removed (false on a non-object).
  // O(n) per call: build large objects with MakeObject instead.
  void Set(std::string key, Value value);
  bool Erase(std::string_view key);

  friend bool operator==(const Value& a, const Value& b) { return a.v_ == b.v_; }

 private:
  friend class Parser;
  struct ObjectTag {};
  Value(ObjectTag, Object members) : v_(std::move(members)) {}

  // Index order must match Type.
  std::variant<std::nullptr_t, bool, int64_t, std::string, Array, Object> v_;
};

// Typed field access with errors that name the field and the expected type, e.g.
// `<where>: field "version" must be an integer, got string` or `<where>: missing field
// "version"`, all with kBadMetadata. `where` names the enclosing object for the message (e.g.
// "snapshot meta \"targets.json\""); an empty `where` drops the prefix. `object` not being an
// object is also kBadMetadata. The pointer from RequireField borrows from `object`.
Result<const Value*> RequireField(const Value& object, std::string_view key, Type type,
                                  std::string_view where);
Result<int64_t> RequireInt(const Value& object, std::string_view key, std::string_view where);
Result<std::string> RequireString(const Value& object, std::string_view key,
                                  std::string_view where);
Result<bool> RequireBool(const Value& object, std::string_view key, std::string_view where);

}  // namespace mdu::json

#endif  // MDU_CORE_JSON_VALUE_H_
