// The tamper-evident audit log of operator actions: hash-chained records in the Store.
//
// A record is the canonical JSON (core/json/writer.h, the TUF form) of
//   {"seq": N, "time": <server clock>, "actor": "<operator or component>", "action": "<name>",
//    "detail": {...}, "prev_hash": "<sha256 hex of record N-1's bytes; 64 zeros for N = 1>"}
// and its hash is sha256 over exactly those bytes. Bytes of text outside printable ASCII are
// written as the four characters \xHH, so every record is plain JSON any reader parses.
// Changing, removing or reordering a record breaks the link of its successor, which
// VerifyAuditChain reports. What a chain alone cannot
// show is the removal of the newest records: anchor the head hash elsewhere (the server logs it
// at start; `repo-server audit verify` prints it).
//
// Actions: server_start, publish_accepted (written in the publish's own Store::Commit),
// publish_rejected, credential_used, credential_refused.
//
// Thread-safety: Append/AppendWith serialize on an internal mutex; the writer passed to
// AppendWith runs under it. Ownership: borrows `store` and `clock`, which must outlive it.
#ifndef MDU_REPO_SERVER_AUDIT_LOG_H_
#define MDU_REPO_SERVER_AUDIT_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/json/value.h"
#include "repo-server/clock.h"
#include "repo-server/store.h"

namespace mdu::server {

// sha256 hex of a record's bytes.
std::string AuditRecordHash(std::string_view bytes);

class AuditLog {
 public:
  // Continues the chain after the store's last record. kIo if the store cannot be read.
  static Result<std::unique_ptr<AuditLog>> Open(Store& store, const Clock& clock);

  // Appends one record as its own (synced) write.
  Status Append(std::string_view actor, std::string_view action, json::Value detail);

  // Builds the next record and hands it to `write`, which must persist it (e.g. inside a
  // publish's Store::Commit). The chain advances only if `write` succeeds; its error is
  // returned unchanged.
  using Writer = std::function<Status(const AuditRecord&)>;
  Status AppendWith(std::string_view actor, std::string_view action, json::Value detail,
                    const Writer& write);

  // The hash of the newest record (64 zeros for an empty log).
  std::string head_hash() const;

 private:
  AuditLog(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  Store& store_;
  const Clock& clock_;
  mutable std::mutex mu_;
  uint64_t last_seq_ = 0;
  std::string last_hash_;
};

struct AuditChainSummary {
  uint64_t records = 0;
  std::string head_hash;
};

// Walks the whole chain: seq 1, 2, 3... without gaps, each record canonical JSON of exactly the
// six fields, each prev_hash the hash of its predecessor. The first failure is returned as
// kHashMismatch (a broken link: "audit record N was modified...") or kBadMetadata (a malformed
// record), naming the record's seq.
Result<AuditChainSummary> VerifyAuditChain(const Store& store);

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_AUDIT_LOG_H_
