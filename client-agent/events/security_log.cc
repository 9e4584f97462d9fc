#include "client-agent/events/security_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "core/io/unique_fd.h"
#include "core/json/parser.h"
#include "core/json/writer.h"

namespace mdu::agent::events {
namespace {

constexpr std::string_view kGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct NameOf {
  EventType type;
  std::string_view name;
};
constexpr std::array<NameOf, 9> kNames = {{
    {EventType::kBadSignature, "bad_signature"},
    {EventType::kRollbackAttempt, "rollback_attempt"},
    {EventType::kExpiredMetadata, "expired_metadata"},
    {EventType::kHashMismatch, "hash_mismatch"},
    {EventType::kOversizedDownload, "oversized_download"},
    {EventType::kUnauthorizedCommand, "unauthorized_command"},
    {EventType::kFloorRestored, "floor_restored"},
    {EventType::kPolicyRefused, "policy_refused"},
    {EventType::kLogTampered, "log_tampered"},
}};

Error IoError(const std::filesystem::path& path, std::string_view what, int err) {
  return Error(ErrorKind::kIo,
               std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

using io::UniqueFd;

json::Value Unhashed(const EventRecord& record) {
  return json::Value::MakeObject({{"seq", static_cast<int64_t>(record.seq)},
                                  {"time", record.time},
                                  {"type", record.type},
                                  {"subject", record.subject},
                                  {"detail", record.detail},
                                  {"prev", record.prev}});
}

std::string HashOf(const EventRecord& record) {
  return crypto::Sha256Hex(json::Canonical(Unhashed(record)));
}

Result<EventRecord> ParseRecord(std::string_view line) {
  MDU_ASSIGN_OR_RETURN(json::Value value, json::Parse(line));
  constexpr std::string_view kWhere = "security event";
  EventRecord record;
  MDU_ASSIGN_OR_RETURN(int64_t seq, json::RequireInt(value, "seq", kWhere));
  if (seq < 1) return MakeError(ErrorKind::kBadMetadata, "security event: seq must be >= 1");
  record.seq = static_cast<uint64_t>(seq);
  MDU_ASSIGN_OR_RETURN(record.time, json::RequireInt(value, "time", kWhere));
  MDU_ASSIGN_OR_RETURN(record.type, json::RequireString(value, "type", kWhere));
  MDU_ASSIGN_OR_RETURN(record.subject, json::RequireString(value, "subject", kWhere));
  MDU_ASSIGN_OR_RETURN(record.detail, json::RequireString(value, "detail", kWhere));
  MDU_ASSIGN_OR_RETURN(record.prev, json::RequireString(value, "prev", kWhere));
  MDU_ASSIGN_OR_RETURN(record.hash, json::RequireString(value, "hash", kWhere));
  if (value.as_object().size() != 7) {
    return MakeError(ErrorKind::kBadMetadata, "security event: unexpected fields");
  }
  return record;
}

// The complete lines of the log and whether a torn (unterminated) line follows them.
struct Lines {
  std::vector<std::string_view> complete;
  size_t complete_bytes = 0;  // offset just past the last '\n'
  bool torn = false;
};

Lines SplitLines(std::string_view bytes) {
  Lines lines;
  size_t start = 0;
  while (start < bytes.size()) {
    const size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) {
      lines.torn = true;
      break;
    }
    lines.complete.push_back(bytes.substr(start, end - start));
    start = end + 1;
    lines.complete_bytes = start;
  }
  return lines;
}

Result<std::string> ReadIfPresent(const std::filesystem::path& path, uint64_t max) {
  Result<std::string> bytes = io::ReadFileBounded(path, max);
  if (!bytes && bytes.error().kind() == ErrorKind::kNotFound) return std::string();
  return bytes;
}

Status WriteAll(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(IoError(path, "appending to", errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace

std::string_view EventTypeName(EventType type) {
  for (const NameOf& entry : kNames) {
    if (entry.type == type) return entry.name;
  }
  return "unknown";
}

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (const NameOf& entry : kNames) {
    if (entry.name == name) return entry.type;
  }
  return std::nullopt;
}

std::optional<EventType> EventForErrorKind(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUnsignedMetadata:
      return EventType::kBadSignature;
    case ErrorKind::kBadVersion:
      return EventType::kRollbackAttempt;
    case ErrorKind::kExpired:
      return EventType::kExpiredMetadata;
    case ErrorKind::kHashMismatch:
    case ErrorKind::kLengthMismatch:
      return EventType::kHashMismatch;
    case ErrorKind::kLimitExceeded:
      return EventType::kOversizedDownload;
    default:
      return std::nullopt;
  }
}

json::Value RecordToJson(const EventRecord& record) {
  json::Value value = Unhashed(record);
  value.Set("hash", record.hash);
  return value;
}

Result<EventRecord> SecurityLog::Append(const SecurityEvent& event) {
  const std::filesystem::path path = dir_ / kLogFile;
  const bool existed = std::filesystem::exists(path);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return MakeError(IoError(path, "opening", errno));
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return MakeError(IoError(path, "locking", errno));
  }
  // Under the lock: the tail another process may just have written is the one to chain onto.
  MDU_ASSIGN_OR_RETURN(std::string bytes, ReadIfPresent(path, kMaxLogBytes));
  const Lines lines = SplitLines(bytes);
  if (lines.torn && ::ftruncate(fd.get(), static_cast<off_t>(lines.complete_bytes)) != 0) {
    return MakeError(IoError(path, "cutting the torn last line of", errno));
  }
  EventRecord record;
  record.seq = 1;
  record.prev = std::string(kGenesis);
  if (!lines.complete.empty()) {
    Result<EventRecord> last = ParseRecord(lines.complete.back());
    if (!last) {
      return MakeError(last.error().WithContext("last record of " + path.string() +
                                                " (the log is damaged; see events --verify)"));
    }
    record.seq = last->seq + 1;
    record.prev = last->hash;
  }
  record.time = clock_->Now();
  record.type = std::string(EventTypeName(event.type));
  record.subject = event.subject;
  record.detail = event.detail;
  record.hash = HashOf(record);
  json::Value full = RecordToJson(record);
  const std::string line = json::Canonical(full) + "\n";
  if (lines.complete_bytes + line.size() > kMaxLogBytes) {
    return MakeError(ErrorKind::kLimitExceeded, "security event log " + path.string() + " is full");
  }
  MDU_RETURN_IF_ERROR(WriteAll(fd.get(), line, path));
  while (::fsync(fd.get()) != 0) {
    if (errno != EINTR) return MakeError(IoError(path, "fsync of", errno));
  }
  if (!existed) MDU_RETURN_IF_ERROR(io::SyncDirectory(dir_));
  MDU_RETURN_IF_ERROR(io::WriteFileAtomically(
      dir_ / kHeadFile, std::to_string(record.seq) + " " + record.hash + "\n", 0600));
  if (on_append_) on_append_(record);
  return record;
}

Result<std::vector<EventRecord>> SecurityLog::ReadAll() const {
  const std::filesystem::path path = dir_ / kLogFile;
  MDU_ASSIGN_OR_RETURN(std::string bytes, ReadIfPresent(path, kMaxLogBytes));
  std::vector<EventRecord> records;
  const Lines lines = SplitLines(bytes);
  for (size_t i = 0; i < lines.complete.size(); ++i) {
    Result<EventRecord> record = ParseRecord(lines.complete[i]);
    if (!record) {
      return MakeError(
          record.error().WithContext(path.string() + " line " + std::to_string(i + 1)));
    }
    records.push_back(std::move(*record));
  }
  return records;
}

Result<std::vector<EventRecord>> SecurityLog::ReadAfter(uint64_t after_seq) const {
  MDU_ASSIGN_OR_RETURN(std::vector<EventRecord> all, ReadAll());
  std::vector<EventRecord> after;
  for (EventRecord& record : all) {
    if (record.seq > after_seq) after.push_back(std::move(record));
  }
  return after;
}

Result<VerifyReport> SecurityLog::Verify() const {
  MDU_ASSIGN_OR_RETURN(std::string bytes, ReadIfPresent(dir_ / kLogFile, kMaxLogBytes));
  MDU_ASSIGN_OR_RETURN(std::string head, ReadIfPresent(dir_ / kHeadFile, 256));
  VerifyReport report;
  const Lines lines = SplitLines(bytes);
  report.torn_tail = lines.torn;
  auto fail = [&report](uint64_t line, std::string problem) {
    report.ok = false;
    report.bad_line = line;
    report.problem = std::move(problem);
    return report;
  };
  std::string prev(kGenesis);
  std::string before_last(kGenesis);
  for (size_t i = 0; i < lines.complete.size(); ++i) {
    const uint64_t line = i + 1;
    Result<EventRecord> record = ParseRecord(lines.complete[i]);
    if (!record) return fail(line, record.error().message());
    if (record->seq != line) {
      return fail(line, "seq " + std::to_string(record->seq) + " where " + std::to_string(line) +
                            " was expected (a record was removed, inserted or moved)");
    }
    if (record->prev != prev) {
      return fail(line, "prev does not match the hash of the record before it");
    }
    if (HashOf(*record) != record->hash) {
      return fail(line, "hash does not match the record's content (the record was altered)");
    }
    before_last = prev;
    prev = record->hash;
    ++report.records;
  }
  // The head names the last record, or the one before it after a crash between the two writes.
  const uint64_t n = report.records;
  const std::string last_head = std::to_string(n) + " " + prev + "\n";
  const std::string lagging_head =
      n == 0 ? std::string() : std::to_string(n - 1) + " " + before_last + "\n";
  const bool head_ok = (n == 0 && head.empty()) || head == last_head ||
                       (n > 0 && (head == lagging_head || (n == 1 && head.empty())));
  if (!head_ok) {
    return fail(n + 1, "the head file does not name the last record (records were cut off the "
                       "end, or the head was altered)");
  }
  return report;
}

Status AppendIfConfigured(SecurityLog* log, const SecurityEvent& event) {
  if (log == nullptr) return {};
  Result<EventRecord> record = log->Append(event);
  if (!record) return MakeError(record.error());
  return {};
}

}  // namespace mdu::agent::events
