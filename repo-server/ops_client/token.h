// The operator's bearer token, read from a file or an environment variable. The token is a
// secret: it is never printed or logged (not even in error messages), zeroed when dropped, and
// taken only from places other users cannot read.
//
//   ReadTokenFile     refuses, as ssh does for private keys, a file that group or others may
//                     read or write (mode & 077), or anything but a regular file; the first
//                     line is the token (surrounding whitespace removed).
//   TakeTokenFromEnv  reads the variable and unsets it, so processes started later do not
//                     inherit it.
//
// Errors: kNotFound (no file / unset variable), kPolicy (permissions), kInvalidArgument (empty
// or not a valid header value), kIo. Messages name the file or variable, never the token.
// Thread-safety: TakeTokenFromEnv changes the environment (call it before starting threads).
#ifndef MDU_REPO_SERVER_OPS_CLIENT_TOKEN_H_
#define MDU_REPO_SERVER_OPS_CLIENT_TOKEN_H_

#include <filesystem>
#include <string>

#include "core/common/error.h"

namespace mdu::ops {

class Token {
 public:
  Token() = default;
  explicit Token(std::string value) : value_(std::move(value)) {}
  Token(Token&& other) noexcept : value_(std::move(other.value_)) { other.Wipe(); }
  Token& operator=(Token&& other) noexcept;
  Token(const Token&) = delete;
  Token& operator=(const Token&) = delete;
  ~Token() { Wipe(); }

  bool empty() const { return value_.empty(); }
  // "Bearer <token>", the authorization header value.
  std::string AuthorizationHeader() const { return "Bearer " + value_; }

 private:
  void Wipe();
  std::string value_;
};

inline constexpr size_t kMaxTokenBytes = 4096;

Result<Token> ReadTokenFile(const std::filesystem::path& path);
Result<Token> TakeTokenFromEnv(const std::string& variable);

}  // namespace mdu::ops

#endif  // MDU_REPO_SERVER_OPS_CLIENT_TOKEN_H_
