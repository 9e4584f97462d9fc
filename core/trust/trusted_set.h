// The trusted metadata set of a TUF client (specification 1.0.x, "Detailed client workflow",
// steps 5.3 to 5.6): a pure state machine over metadata bytes. It never does I/O and has no
// clock of its own: the caller passes the reference time ("the latest known time", 5.1).
//
// Order of use (enforced; a call out of order fails with kInternal, a caller bug):
//   Create(root) -> UpdateRoot()* -> UpdateTimestamp()+ -> UpdateSnapshot()+ ->
//   UpdateTargets() -> UpdateDelegatedTargets()*
// Each Update* takes untrusted bytes and either accepts them (they become the trusted version
// of that role) or returns an error naming the role, the version and the reason, with a kind
// from the TUF taxonomy:
//   kBadMetadata       not metadata of that role, malformed, role not listed/delegated
//   kUnsignedMetadata  signature threshold not met
//   kBadVersion        rollback, gap in the root chain, version differs from the listed one
//   kEqualVersion      timestamp has the trusted version: an expected outcome (old one kept)
//   kExpired           freeze attack
//   kLengthMismatch, kHashMismatch  mix-and-match against timestamp/snapshot meta
//
// Intermediate states, as python-tuf does it: a timestamp that is newer but expired, and a
// snapshot that is expired or whose version differs from timestamp's meta, ARE kept as trusted
// (they still protect against rollback of a later update) even though the call returns
// kExpired/kBadVersion; they then block the next step (UpdateSnapshot/UpdateTargets fail).
// Nothing else that fails is ever kept.
//
// Fast-forward recovery (5.3.11): a locally stored timestamp or snapshot fed after a root
// rotation that changed that role's keys fails verification and is simply not trusted; the
// caller goes on with freshly downloaded metadata.
//
// Memory: only the typed roles are kept (no envelope, no bytes), one copy each.
// Ownership: pointers returned by accessors and Update* borrow from the set and stay valid until
// that role is updated again or the set is destroyed (moving the set keeps them valid).
// Thread-safety: none; use from one thread or guard externally. Const access is safe.
#ifndef MDU_CORE_TRUST_TRUSTED_SET_H_
#define MDU_CORE_TRUST_TRUSTED_SET_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/metadata/metadata.h"

namespace mdu::trust {

using metadata::UnixTime;

class TrustedSet {
 public:
  // Loads the locally trusted root (5.2). It must be signed by a threshold of its own root keys;
  // its expiry is not checked here (5.3.10 checks the final root in UpdateTimestamp).
  static Result<TrustedSet> Create(std::string_view root_bytes, UnixTime reference_time);

  TrustedSet(TrustedSet&&) noexcept = default;
  TrustedSet& operator=(TrustedSet&&) noexcept = default;
  TrustedSet(const TrustedSet&) = delete;
  TrustedSet& operator=(const TrustedSet&) = delete;
  ~TrustedSet();

  // 5.3: the next root of the chain. Must be signed by a threshold of the trusted root's root
  // keys and of its own, and have version trusted + 1 (else kBadVersion). Intermediate roots
  // may be expired. Fails with kInternal once a timestamp is loaded.
  Result<const metadata::Root*> UpdateRoot(std::string_view bytes);

  // 5.4: checks the final root's expiry first (kExpired), then signature, rollback of the
  // timestamp version and of the snapshot version it lists, then its own expiry. See the class
  // comment for kEqualVersion and the expired-but-kept case.
  Result<const metadata::Timestamp*> UpdateTimestamp(std::string_view bytes);

  // 5.5: needs a trusted, unexpired timestamp. Length and hashes are checked against
  // timestamp's meta unless `trusted_local` (bytes read back from our own store, which were
  // checked when downloaded). Rollback of any targets role listed in the trusted snapshot
  // fails with kBadVersion naming the role.
  Result<const metadata::Snapshot*> UpdateSnapshot(std::string_view bytes,
                                                   bool trusted_local = false);

  // 5.6: top-level targets, delegated by root.
  Result<const metadata::Targets*> UpdateTargets(std::string_view bytes) {
    return UpdateDelegatedTargets(bytes, "targets", "root");
  }
  // 5.6 for a delegated role: needs a final snapshot (unexpired, version as timestamp lists) and
  // the delegator loaded. The role must be listed in snapshot meta (kBadMetadata otherwise) and
  // delegated by `delegator_name`; bytes must match snapshot's length/hashes when listed,
  // version must equal the listed one, and it must not be expired.
  Result<const metadata::Targets*> UpdateDelegatedTargets(std::string_view bytes,
                                                          std::string_view role_name,
                                                          std::string_view delegator_name);

  const metadata::Root& root() const { return *root_; }
  const metadata::Timestamp* timestamp() const { return timestamp_.get(); }  // null if none
  const metadata::Snapshot* snapshot() const { return snapshot_.get(); }     // null if none
  const metadata::Targets* targets() const { return TargetsRole("targets"); }
  // "targets" or a delegated role name; null when not loaded.
  const metadata::Targets* TargetsRole(std::string_view role_name) const;
  size_t targets_role_count() const { return targets_.size(); }

  UnixTime reference_time() const { return reference_time_; }
  void set_reference_time(UnixTime time) { reference_time_ = time; }

 private:
  TrustedSet(std::unique_ptr<metadata::Root> root, UnixTime reference_time);
  Status CheckFinalTimestamp() const;
  Status CheckFinalSnapshot() const;

  std::unique_ptr<metadata::Root> root_;
  std::unique_ptr<metadata::Timestamp> timestamp_;
  std::unique_ptr<metadata::Snapshot> snapshot_;
  // "targets" and delegated roles; map nodes are stable, so returned pointers stay valid.
  std::map<std::string, metadata::Targets, std::less<>> targets_;
  UnixTime reference_time_;
};

}  // namespace mdu::trust

#endif  // MDU_CORE_TRUST_TRUSTED_SET_H_
