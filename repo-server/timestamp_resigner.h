// TimestampResigner: keeps timestamp.json fresh with the one online key the server holds
// (DESIGN.md section 2: the server never holds root or targets keys). When the current
// timestamp expires within `margin` of the clock's now, it signs a copy with version + 1 and
// expiry now + `validity`, and publishes it through Repository::Publish, so the new timestamp
// passes the same verification as an uploaded one (signed by the key root authorizes for
// timestamp, snapshot it names unchanged).
//
// With a snapshot key too, a snapshot.json expiring within `margin` is re-signed the same way
// (version + 1, expiry now + `snapshot_validity_seconds`, same meta) and published together
// with a timestamp naming it, in one publish.
//
// Ownership: borrows the repository and the signer; both must outlive the resigner.
// Thread-safety: Tick may be called from any thread; concurrent Ticks are serialized by the
// repository's publish lock (the loser fails with kBadVersion and the next tick retries).
#ifndef MDU_REPO_SERVER_TIMESTAMP_RESIGNER_H_
#define MDU_REPO_SERVER_TIMESTAMP_RESIGNER_H_

#include <cstdint>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "repo-server/repository.h"

namespace mdu::server {

struct ResignPolicy {
  int64_t validity_seconds = 24 * 3600;  // expiry of a re-signed timestamp, from now
  int64_t margin_seconds = 6 * 3600;     // re-sign when fewer seconds than this are left
  int64_t snapshot_validity_seconds = 7 * 24 * 3600;  // with a snapshot key
};

class TimestampResigner {
 public:
  // kInvalidArgument unless 0 < margin < validity (both validities). `snapshot_key` may be
  // null (timestamp only).
  static Result<TimestampResigner> Create(Repository& repository, const crypto::Signer& key,
                                          ResignPolicy policy,
                                          const crypto::Signer* snapshot_key = nullptr);

  // Re-signs if due. Returns true if a new timestamp was published, false if not due or nothing
  // is published yet. Errors: those of Repository::Publish (e.g. kUnsignedMetadata when the
  // key is not root's timestamp key), kCrypto if signing fails.
  Result<bool> Tick();

 private:
  TimestampResigner(Repository& repository, const crypto::Signer& key, ResignPolicy policy,
                    const crypto::Signer* snapshot_key)
      : repository_(&repository), key_(&key), policy_(policy), snapshot_key_(snapshot_key) {}

  Repository* repository_;
  const crypto::Signer* key_;
  ResignPolicy policy_;
  const crypto::Signer* snapshot_key_;
};

// The offline side publishes timestamp N+1 after its own last one, but the server may have
// re-signed the timestamp since (N+1, N+2, ...): the upload would then be refused as a rollback
// or as changed content under a published version. When the uploaded timestamp names a
// snapshot newer than the published one (a new release) and its version is not above the
// published timestamp, it is re-issued by the online `key`: same snapshot reference and
// expiry, version = published + 1. Everything else (a replayed old release, an upload already
// ahead) is left for the verifier to judge. The snapshot and targets still need their own
// signatures, so the online key gains no power it does not have already.
Status RebaseUploadedTimestamp(PublishInput& input, const RepositoryView& current,
                               const crypto::Signer& key);

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_TIMESTAMP_RESIGNER_H_
