#include "repo-server/ops_client/token.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/io/unique_fd.h"

namespace mdu::ops {
namespace {

// Header values may hold visible ASCII only; a token with anything else would be mangled or
// refused by the transport, so say so here.
Status CheckTokenText(const std::string& token, const std::string& source) {
  if (token.empty()) return MakeError(ErrorKind::kInvalidArgument, source + " holds no token");
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return MakeError(ErrorKind::kInvalidArgument,
                       source + ": the token must be printable ASCII without spaces");
    }
  }
  return {};
}

std::string FirstLineTrimmed(std::string& text) {
  size_t end = text.find('\n');
  if (end == std::string::npos) end = text.size();
  size_t begin = 0;
  while (begin < end && (text[begin] == ' ' || text[begin] == '\t')) ++begin;
  while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r')) {
    --end;
  }
  return text.substr(begin, end - begin);
}

}  // namespace

Token& Token::operator=(Token&& other) noexcept {
  if (this != &other) {
    Wipe();
    value_ = std::move(other.value_);
    other.Wipe();
  }
  return *this;
}

void Token::Wipe() {
  if (!value_.empty()) explicit_bzero(value_.data(), value_.size());
  value_.clear();
}

Result<Token> ReadTokenFile(const std::filesystem::path& path) {
  const std::string name = "token file " + path.string();
  io::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    int err = errno;
    return MakeError(err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo,
                     name + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return MakeError(ErrorKind::kIo, name + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorKind::kInvalidArgument, name + " is not a regular file");
  }
  // As ssh refuses private keys others can read: a token readable by others is no secret.
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return MakeError(ErrorKind::kPolicy,
                     name + " is accessible by group or others (mode " + mode +
                         "); the token is refused. Run: chmod 600 " + path.string());
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxTokenBytes) {
    return MakeError(ErrorKind::kLimitExceeded,
                     name + " is larger than " + std::to_string(kMaxTokenBytes) + " bytes");
  }
  std::string text(kMaxTokenBytes + 1, '\0');
  size_t used = 0;
  while (used < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      explicit_bzero(text.data(), text.size());
      return MakeError(ErrorKind::kIo, name + ": " + std::strerror(err));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  text.resize(used);
  std::string line = FirstLineTrimmed(text);
  explicit_bzero(text.data(), text.size());
  if (auto valid = CheckTokenText(line, name); !valid) {
    explicit_bzero(line.data(), line.size());
    return MakeError(valid.error());
  }
  return Token(std::move(line));
}

Result<Token> TakeTokenFromEnv(const std::string& variable) {
  const char* value = std::getenv(variable.c_str());
  if (value == nullptr) {
    return MakeError(ErrorKind::kNotFound, "environment variable " + variable + " is not set");
  }
  std::string text(value);
  // Gone from this process's environment: children and later code cannot read it.
  ::unsetenv(variable.c_str());
  auto valid = CheckTokenText(text, "environment variable " + variable);
  if (!valid) {
    explicit_bzero(text.data(), text.size());
    return MakeError(valid.error());
  }
  return Token(std::move(text));
}

}  // namespace mdu::ops
