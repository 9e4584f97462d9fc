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
// Limits: someone who can rewrite both files can forge a consistent chain from scratch; the
// server's copy (the report outbox sends every record) is the anchor that catches that. The log
// holds at most kMaxLogBytes (kLimitExceeded beyond; rotation is future work).
//
// Outbox interface: set_on_append() is called with each record after it is durable, and
// ReadAfter(seq) lists the records after the last one sent (for catch-up after a restart).
//
// Errors: kIo for file system failures, kLimitExceeded for a full log, kBadMetadata from
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
  kUnauthorizedCommand,  // an operator command without a valid authorization
  kFloorRestored,        // state.json held a lower security floor than its second copy
  kPolicyRefused,        // an install refused by a device policy (window, approval, busy)
  kLogTampered,          // Verify found the event log itself altered
};
std::string_view EventTypeName(EventType type);  // "bad_signature", ...
std::optional<EventType> EventTypeFromName(std::string_view name);

// The security event a failed refresh or download stands for, if any (kUnsignedMetadata ->
// bad_signature, kBadVersion -> rollback_attempt, kExpired -> expired_metadata, kHashMismatch and
// kLengthMismatch -> hash_mismatch, kLimitExceeded -> oversized_download). Network errors,
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
  uint64_t records = 0;       // complete records read
  bool torn_tail = false;     // an unterminated last line (a crash mid-append); not tampering
  std::optional<uint64_t> bad_line;  // 1-based line of the first problem
  std::string problem;        // what is wrong (empty when ok)
};

class SecurityLog {
 public:
  static constexpr std::string_view kLogFile = "security_events.log";
  static constexpr std::string_view kHeadFile = "security_events.head";
  static constexpr uint64_t kMaxLogBytes = 16u << 20;

  // `state_dir` must exist. The clock must outlive the log.
  SecurityLog(std::filesystem::path state_dir, const client::Clock& clock)
      : dir_(std::move(state_dir)), clock_(&clock) {}

  using AppendListener = std::function<void(const EventRecord&)>;
  void set_on_append(AppendListener listener) { on_append_ = std::move(listener); }

  // Appends durably (see above) and returns the record written.
  Result<EventRecord> Append(const SecurityEvent& event);

  // Every complete record in file order (no verification); empty when there is no log.
  Result<std::vector<EventRecord>> ReadAll() const;
  // The records with seq > `after_seq`.
  Result<std::vector<EventRecord>> ReadAfter(uint64_t after_seq) const;

  // Checks the whole chain and the head. kIo only when the files cannot be read.
  Result<VerifyReport> Verify() const;

  const std::filesystem::path& directory() const { return dir_; }

 private:
  std::filesystem::path dir_;
  const client::Clock* clock_;
  AppendListener on_append_;
};

// Appends when `log` is not null (a no-op otherwise). The update flow must not fail because the
// event log could not be written: callers only warn about the returned error.
Status AppendIfConfigured(SecurityLog* log, const SecurityEvent& event);

}  // namespace mdu::agent::events

#endif  // MDU_CLIENT_AGENT_EVENTS_SECURITY_LOG_H_
