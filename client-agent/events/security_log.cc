#include "client-agent/events/security_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
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
constexpr std::array<NameOf, 10> kNames = {{
    {EventType::kBadSignature, "bad_signature"},
    {EventType::kRollbackAttempt, "rollback_attempt"},
    {EventType::kExpiredMetadata, "expired_metadata"},
    {EventType::kHashMismatch, "hash_mismatch"},
    {EventType::kOversizedDownload, "oversized_download"},
    {EventType::kSlowRetrieval, "slow_retrieval"},
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
    case ErrorKind::kSlowRetrieval:
      return EventType::kSlowRetrieval;
    default:
      return std::nullopt;
  }
}

json::Value RecordToJson(const EventRecord& record) {
  json::Value value = Unhashed(record);
  value.Set("hash", record.hash);
  return value;
}

uint64_t LogLimits::segment_bytes() const {
  return std::max<uint64_t>(max_bytes / segments(), kMinSegmentBytes);
}

namespace {

// A file of the log: a closed segment (first_seq from its name) or the active file (last).
struct Segment {
  std::filesystem::path path;
  uint64_t first_seq = 0;  // from the name; 0 for the active file
  bool active = false;
};

struct Anchor {
  uint64_t seq = 0;
  std::string hash = std::string(kGenesis);
};

constexpr size_t kSeqDigits = 20;

std::string SegmentName(uint64_t first_seq) {
  std::string digits = std::to_string(first_seq);
  return std::string(SecurityLog::kLogFile) + "." +
         std::string(kSeqDigits - std::min(kSeqDigits, digits.size()), '0') + digits;
}

// "<seq> <hash>\n" as in the head and anchor files.
std::optional<Anchor> ParseSeqHash(std::string_view text) {
  if (text.empty() || text.back() != '\n') return std::nullopt;
  text.remove_suffix(1);
  const size_t space = text.find(' ');
  if (space == std::string_view::npos || space == 0 || text.size() - space - 1 != 64) {
    return std::nullopt;
  }
  Anchor anchor;
  for (char c : text.substr(0, space)) {
    if (c < '0' || c > '9' || anchor.seq > (UINT64_MAX - 9) / 10) return std::nullopt;
    anchor.seq = anchor.seq * 10 + static_cast<uint64_t>(c - '0');
  }
  anchor.hash = std::string(text.substr(space + 1));
  return anchor;
}

std::string SeqHashLine(uint64_t seq, std::string_view hash) {
  return std::to_string(seq) + " " + std::string(hash) + "\n";
}

// Where the retained chain starts: the anchor left by the last drop, or record 1.
Result<std::optional<Anchor>> ReadAnchor(const std::filesystem::path& dir) {
  MDU_ASSIGN_OR_RETURN(std::string text, ReadIfPresent(dir / SecurityLog::kAnchorFile, 256));
  if (text.empty()) return std::optional<Anchor>();
  std::optional<Anchor> anchor = ParseSeqHash(text);
  if (!anchor) {
    return MakeError(ErrorKind::kBadMetadata,
                     std::string(SecurityLog::kAnchorFile) + ": not \"<seq> <sha256 hex>\"");
  }
  return anchor;
}

// Closed segments oldest first, then the active file (listed even when it does not exist).
// Segments entirely at or before the anchor are leftovers of a drop interrupted by a crash
// (anchor written, file not yet removed) and are not part of the log.
Result<std::vector<Segment>> ListSegments(const std::filesystem::path& dir,
                                          const std::optional<Anchor>& anchor) {
  std::vector<Segment> segments;
  const std::string prefix = std::string(SecurityLog::kLogFile) + ".";
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(prefix) || name.size() != prefix.size() + kSeqDigits) continue;
    const std::string_view digits = std::string_view(name).substr(prefix.size());
    uint64_t first = 0;
    const auto [end_ptr, error] =
        std::from_chars(digits.data(), digits.data() + digits.size(), first);
    if (error != std::errc() || end_ptr != digits.data() + digits.size()) continue;
    if (anchor && first <= anchor->seq) continue;
    segments.push_back({it->path(), first, false});
  }
  if (ec) return MakeError(IoError(dir, "listing", ec.value()));
  std::sort(segments.begin(), segments.end(),
            [](const Segment& a, const Segment& b) { return a.first_seq < b.first_seq; });
  segments.push_back({dir / SecurityLog::kLogFile, 0, true});
  return segments;
}

uint64_t ReadBound(const LogLimits& limits) {
  return std::max<uint64_t>(limits.max_bytes, LogLimits::kDefaultMaxBytes) + (64u << 10);
}

// The last complete record of a file, if any.
Result<std::optional<EventRecord>> LastRecordOf(const std::filesystem::path& path,
                                                uint64_t bound) {
  MDU_ASSIGN_OR_RETURN(std::string bytes, ReadIfPresent(path, bound));
  const Lines lines = SplitLines(bytes);
  if (lines.complete.empty()) return std::optional<EventRecord>();
  Result<EventRecord> last = ParseRecord(lines.complete.back());
  if (!last) {
    return MakeError(last.error().WithContext("last record of " + path.string() +
                                              " (the log is damaged; see events --verify)"));
  }
  return std::optional<EventRecord>(std::move(*last));
}

// Called under the lock with the active file's complete content. Closes the active file as a
// segment, then drops the oldest closed segments beyond the limit (anchor first, then unlink).
Status RotateLocked(const std::filesystem::path& dir, const LogLimits& limits,
                    uint64_t active_first_seq) {
  const std::filesystem::path active = dir / SecurityLog::kLogFile;
  if (::rename(active.c_str(), (dir / SegmentName(active_first_seq)).c_str()) != 0) {
    return MakeError(IoError(active, "closing the segment", errno));
  }
  MDU_RETURN_IF_ERROR(io::SyncDirectory(dir));
  MDU_ASSIGN_OR_RETURN(std::optional<Anchor> anchor, ReadAnchor(dir));
  MDU_ASSIGN_OR_RETURN(std::vector<Segment> segments, ListSegments(dir, anchor));
  const size_t closed = segments.size() - 1;  // the active file (not created yet) is last
  const size_t keep_closed = limits.segments() - 1;
  for (size_t i = 0; i + keep_closed < closed; ++i) {
    MDU_ASSIGN_OR_RETURN(std::optional<EventRecord> last,
                         LastRecordOf(segments[i].path, ReadBound(limits)));
    if (last) {
      MDU_RETURN_IF_ERROR(io::WriteFileAtomically(dir / SecurityLog::kAnchorFile,
                                                  SeqHashLine(last->seq, last->hash), 0600));
    }
    MDU_RETURN_IF_ERROR(io::RemoveFileDurably(segments[i].path));
  }
  return {};
}

}  // namespace

Result<EventRecord> SecurityLog::Append(const SecurityEvent& event) {
  const std::filesystem::path lock_path = dir_ / kLockFile;
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (lock.get() < 0) return MakeError(IoError(lock_path, "opening", errno));
  while (::flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return MakeError(IoError(lock_path, "locking", errno));
  }
  // Under the lock: the tail another process may just have written is the one to chain onto.
  const std::filesystem::path path = dir_ / kLogFile;
  const uint64_t bound = ReadBound(limits_);
  MDU_ASSIGN_OR_RETURN(std::string bytes, ReadIfPresent(path, bound));
  const Lines lines = SplitLines(bytes);
  EventRecord record;
  record.seq = 1;
  record.prev = std::string(kGenesis);
  std::optional<EventRecord> last;
  uint64_t active_first_seq = 0;
  if (!lines.complete.empty()) {
    Result<EventRecord> parsed = ParseRecord(lines.complete.back());
    if (!parsed) {
      return MakeError(parsed.error().WithContext("last record of " + path.string() +
                                                  " (the log is damaged; see events --verify)"));
    }
    last = std::move(*parsed);
    Result<EventRecord> first = ParseRecord(lines.complete.front());
    active_first_seq = first ? first->seq : last->seq;
  } else {
    // A fresh active file (after a rotation, or a crash right after one): chain onto the newest
    // closed segment, else onto the anchor.
    MDU_ASSIGN_OR_RETURN(std::optional<Anchor> anchor, ReadAnchor(dir_));
    MDU_ASSIGN_OR_RETURN(std::vector<Segment> segments, ListSegments(dir_, anchor));
    if (segments.size() > 1) {
      MDU_ASSIGN_OR_RETURN(last, LastRecordOf(segments[segments.size() - 2].path, bound));
    }
    if (!last && anchor) {
      record.seq = anchor->seq + 1;
      record.prev = anchor->hash;
    }
  }
  if (last) {
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
  const uint64_t segment_bytes = limits_.segment_bytes();
  if (line.size() > segment_bytes) {
    return MakeError(ErrorKind::kLimitExceeded,
                     "security event of " + std::to_string(line.size()) +
                         " bytes exceeds the log segment size of " +
                         std::to_string(segment_bytes));
  }
  if (!lines.complete.empty() && lines.complete_bytes + line.size() > segment_bytes) {
    if (lines.torn && ::truncate(path.c_str(), static_cast<off_t>(lines.complete_bytes)) != 0) {
      return MakeError(IoError(path, "cutting the torn last line of", errno));
    }
    MDU_RETURN_IF_ERROR(RotateLocked(dir_, limits_, active_first_seq));
  }
  const bool existed = std::filesystem::exists(path);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return MakeError(IoError(path, "opening", errno));
  if (existed && lines.torn &&
      ::ftruncate(fd.get(), static_cast<off_t>(lines.complete_bytes)) != 0) {
    return MakeError(IoError(path, "cutting the torn last line of", errno));
  }
  MDU_RETURN_IF_ERROR(WriteAll(fd.get(), line, path));
  while (::fsync(fd.get()) != 0) {
    if (errno != EINTR) return MakeError(IoError(path, "fsync of", errno));
  }
  if (!existed) MDU_RETURN_IF_ERROR(io::SyncDirectory(dir_));
  MDU_RETURN_IF_ERROR(
      io::WriteFileAtomically(dir_ / kHeadFile, SeqHashLine(record.seq, record.hash), 0600));
  if (on_append_) on_append_(record);
  return record;
}

Result<std::vector<EventRecord>> SecurityLog::ReadAll() const {
  MDU_ASSIGN_OR_RETURN(std::optional<Anchor> anchor, ReadAnchor(dir_));
  MDU_ASSIGN_OR_RETURN(std::vector<Segment> segments, ListSegments(dir_, anchor));
  std::vector<EventRecord> records;
  for (const Segment& segment : segments) {
    MDU_ASSIGN_OR_RETURN(std::string bytes, ReadIfPresent(segment.path, ReadBound(limits_)));
    const Lines lines = SplitLines(bytes);
    for (size_t i = 0; i < lines.complete.size(); ++i) {
      Result<EventRecord> record = ParseRecord(lines.complete[i]);
      if (!record) {
        return MakeError(record.error().WithContext(segment.path.string() + " line " +
                                                    std::to_string(i + 1)));
      }
      records.push_back(std::move(*record));
    }
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
  VerifyReport report;
  auto fail = [&report](const std::filesystem::path& file, uint64_t line, std::string problem) {
    report.ok = false;
    report.file = file.filename().string();
    report.bad_line = line;
    report.problem = std::move(problem);
    return report;
  };
  Result<std::optional<Anchor>> anchor = ReadAnchor(dir_);
  if (!anchor) {
    if (anchor.error().kind() == ErrorKind::kBadMetadata) {
      return fail(dir_ / kAnchorFile, 1, anchor.error().message());
    }
    return MakeError(anchor.error());
  }
  MDU_ASSIGN_OR_RETURN(std::vector<Segment> segments, ListSegments(dir_, *anchor));
  MDU_ASSIGN_OR_RETURN(std::string head, ReadIfPresent(dir_ / kHeadFile, 256));
  Anchor start = anchor->value_or(Anchor{});
  report.dropped_through = start.seq;
  uint64_t expected = start.seq + 1;
  std::string prev = start.hash;
  std::string before_last = prev;
  size_t active_lines = 0;
  for (const Segment& segment : segments) {
    MDU_ASSIGN_OR_RETURN(std::string bytes, ReadIfPresent(segment.path, ReadBound(limits_)));
    const Lines lines = SplitLines(bytes);
    if (segment.active) {
      report.torn_tail = lines.torn;
    } else if (lines.torn || lines.complete.empty()) {
      return fail(segment.path, lines.complete.size() + 1,
                  "a closed segment is empty or ends in an unterminated line (it was altered)");
    }
    if (!lines.complete.empty()) ++report.segments;
    if (segment.active) active_lines = lines.complete.size();
    for (size_t i = 0; i < lines.complete.size(); ++i) {
      const uint64_t line = i + 1;
      Result<EventRecord> record = ParseRecord(lines.complete[i]);
      if (!record) return fail(segment.path, line, record.error().message());
      if (i == 0 && !segment.active && record->seq != segment.first_seq) {
        return fail(segment.path, line,
                    "the segment's name says it starts at seq " +
                        std::to_string(segment.first_seq) + " (a segment was renamed)");
      }
      if (record->seq != expected) {
        return fail(segment.path, line,
                    "seq " + std::to_string(record->seq) + " where " + std::to_string(expected) +
                        " was expected (a record or a segment was removed, inserted or moved)");
      }
      if (record->prev != prev) {
        return fail(segment.path, line, "prev does not match the hash of the record before it");
      }
      if (HashOf(*record) != record->hash) {
        return fail(segment.path, line,
                    "hash does not match the record's content (the record was altered)");
      }
      before_last = prev;
      prev = record->hash;
      ++expected;
      ++report.records;
    }
  }
  // The head names the last record, or the one before it after a crash between the two writes.
  const uint64_t last_seq = expected - 1;
  const bool lagging_ok =
      last_seq > start.seq &&
      (head == SeqHashLine(last_seq - 1, before_last) || (last_seq == 1 && head.empty()));
  const bool head_ok = head == SeqHashLine(last_seq, prev) || lagging_ok ||
                       (last_seq == start.seq && head.empty());
  if (!head_ok) {
    return fail(dir_ / kLogFile, active_lines + 1,
                "the head file does not name the last record (records were cut off the end, or "
                "the head was altered)");
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
