// The device's security event log (issue 5): a local, append-only, hash-chained record of what
// an attacker or a misbehaving operator tried (bad signatures, rollbacks, expired metadata, hash
// mismatches, oversized downloads, unauthorized commands, a restored security floor, ...).
//
// Files in the state directory:
//   security_events.log    one record per line, canonical JSON (core/json Canonical):
//                            {"detail", "hash", "prev", "seq", "subject", "time", "type"}
//                          seq counts from 1 without gaps; prev is the previous record's hash
//                          (64 zeros for the first); hash is the lowercase sha256 hex of the
//                          canonical JSON of the record without "hash". So editing a record
//                          breaks its hash, deleting or reordering records breaks seq/prev.
//   security_events.head   "<seq> <hash>\n" of the last record, replaced atomically after each
//                          append: cutting records off the end no longer matches it.
//
// Durability: Append writes the line with O_APPEND under an exclusive flock (several agent
// processes may append), fsyncs the file (and the directory when it created it), then replaces
// the head. A crash mid-line leaves a torn last line without '\n': it was never acknowledged, so
// the next Append cuts it off and Verify reports it as torn (not as tampering). A crash between
// the fsync and the head update leaves the head one record behind, which Verify accepts.
//
// Rotation: the log is capped (LogLimits: 16 MiB and 4 segments by default). When the active
// file would grow beyond max_bytes / max_segments, it is renamed to a closed segment
//   security_events.log.<first seq, 20 digits>
// and a new active file starts; the chain simply continues (the first record of the new file
// has the next seq and the previous file's last hash as prev). When more than max_segments
// files would exist, the oldest closed segment is dropped: first its last record's "<seq>
// <hash>" is written atomically to
//   security_events.anchor
// then the file is removed, so Verify knows where the retained chain must start. So a deleted
// middle segment (seq/prev gap), a deleted oldest segment (the chain no longer starts right
// after the anchor), a renamed segment or an edit anywhere are detected across all segments;
// only the drop by rotation itself is expected (VerifyReport::dropped_through). Appends are
// serialized by an exclusive flock on security_events.lock.
//
// Limits: someone who can rewrite all the files (including head and anchor) can forge a
// consistent chain from scratch; the server's copy (the report outbox sends every record) is
// the anchor that catches that. Records dropped by rotation before the outbox sent them are
// lost (at the defaults that takes 12 MiB of unsent events).
//
// Outbox interface: set_on_append() is called with each record after it is durable, and
// ReadAfter(seq) lists the records after the last one sent (for catch-up after a restart).
//
// Errors: kIo for file system failures, kLimitExceeded for one record larger than a segment,
// kBadMetadata from
// ReadAll/ReadAfter for a line that does not parse (Verify reports instead of failing).
// Thread-safety: a SecurityLog may be used by one thread at a time; the files themselves may be
// shared by several processes (appends are serialized by flock).
#ifndef MDU_CLIENT_AGENT_EVENTS_SECURITY_LOG_H_
#define MDU_CLIENT_AGENT_EVENTS_SECURITY_LOG_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/client/clock.h"
#include "core/common/error.h"
#include "core/json/value.h"

namespace mdu::agent::events {

// Stable names (EventTypeName) travel in reports; never renumber or rename.
enum class EventType {
  kBadSignature,         // metadata signature threshold not met (unsigned_metadata)
  kRollbackAttempt,      // metadata version rollback, or a target below the security floor
  kExpiredMetadata,      // freeze attack: metadata expired at the reference time
  kHashMismatch,         // target or metadata hash/length differs from the signed value
  kOversizedDownload,    // more data than the signed length or the configured maximum
  kSlowRetrieval,        // a download below the minimum speed or past its deadline
  kUnauthorizedCommand,  // an operator command without a valid authorization
  kFloorRestored,        // state.json held a lower security floor than its second copy
  kPolicyRefused,        // an install refused by a device policy (window, approval, busy)
  kLogTampered,          // Verify found the event log itself altered
};
std::string_view EventTypeName(EventType type);  // "bad_signature", ...
std::optional<EventType> EventTypeFromName(std::string_view name);

// The security event a failed refresh or download stands for, if any (kUnsignedMetadata ->
// bad_signature, kBadVersion -> rollback_attempt, kExpired -> expired_metadata, kHashMismatch and
// kLengthMismatch -> hash_mismatch, kLimitExceeded -> oversized_download, kSlowRetrieval ->
// slow_retrieval: a source too slow to finish is the slow-retrieval attack). Network errors,
// not-found and local failures are not security events.
std::optional<EventType> EventForErrorKind(ErrorKind kind);

struct SecurityEvent {
  EventType type = EventType::kBadSignature;
  std::string subject;  // what it was about: a target name, a role, a command
  std::string detail;   // human-readable; never key material or passphrases
};

struct EventRecord {
  uint64_t seq = 0;
  int64_t time = 0;  // Unix seconds (UTC)
  std::string type;  // EventTypeName; kept as text so records of newer agents still verify
  std::string subject;
  std::string detail;
  std::string prev;  // hash of the previous record
  std::string hash;  // sha256 of this record without "hash"
};
json::Value RecordToJson(const EventRecord& record);

struct VerifyReport {
  bool ok = true;             // the chain and the head are intact
  uint64_t records = 0;       // complete records read (all retained segments)
  uint64_t segments = 0;      // files holding them (closed segments and the active file)
  uint64_t dropped_through = 0;  // records 1..this were dropped by rotation (0: none)
  std::string file;           // the file of the first problem (empty when ok)
  bool torn_tail = false;     // an unterminated last line (a crash mid-append); not tampering
  std::optional<uint64_t> bad_line;  // 1-based line, within `file`, of the first problem
  std::string problem;        // what is wrong (empty when ok)
};

// How much of the log is kept: at most max_bytes in max_segments files (the active one
// included). Values below the minimums are raised to them.
struct LogLimits {
  static constexpr uint64_t kDefaultMaxBytes = 16u << 20;
  static constexpr uint64_t kMinSegmentBytes = 4u << 10;
  uint64_t max_bytes = kDefaultMaxBytes;
  uint32_t max_segments = 4;  // >= 2

  uint64_t segment_bytes() const;
  uint32_t segments() const { return max_segments < 2 ? 2 : max_segments; }
};

class SecurityLog {
 public:
  static constexpr std::string_view kLogFile = "security_events.log";
  static constexpr std::string_view kHeadFile = "security_events.head";
  static constexpr std::string_view kAnchorFile = "security_events.anchor";
  static constexpr std::string_view kLockFile = "security_events.lock";

  // `state_dir` must exist. The clock must outlive the log.
  SecurityLog(std::filesystem::path state_dir, const client::Clock& clock, LogLimits limits = {})
      : dir_(std::move(state_dir)), clock_(&clock), limits_(limits) {}

  using AppendListener = std::function<void(const EventRecord&)>;
  void set_on_append(AppendListener listener) { on_append_ = std::move(listener); }

  // Appends durably (see above), rotating first when the active file is full, and returns the
  // record written. kLimitExceeded for a single record larger than a segment.
  Result<EventRecord> Append(const SecurityEvent& event);

  // Every complete record of the retained segments, oldest first (no verification); empty when
  // there is no log.
  Result<std::vector<EventRecord>> ReadAll() const;
  // The records with seq > `after_seq`.
  Result<std::vector<EventRecord>> ReadAfter(uint64_t after_seq) const;

  // Checks the whole retained chain (every segment, from the anchor or record 1) and the head.
  // kIo only when the files cannot be read.
  Result<VerifyReport> Verify() const;

  const std::filesystem::path& directory() const { return dir_; }

 private:
  std::filesystem::path dir_;
  const client::Clock* clock_;
  LogLimits limits_;
  AppendListener on_append_;
};

// Appends when `log` is not null (a no-op otherwise). The update flow must not fail because the
// event log could not be written: callers only warn about the returned error.
Status AppendIfConfigured(SecurityLog* log, const SecurityEvent& event);

}  // namespace mdu::agent::events

#endif  // MDU_CLIENT_AGENT_EVENTS_SECURITY_LOG_H_
