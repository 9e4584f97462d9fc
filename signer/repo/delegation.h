// Delegated targets roles: path-pattern delegations (product lines, teams) and TAP 15 succinct
// hash bins for very large repositories. Both edit the delegating role (default "targets",
// which must then be signed again) and create the delegated roles' empty metadata, which their
// own keys must sign. In-memory only; the caller saves the Workspace.
#ifndef MDU_SIGNER_REPO_DELEGATION_H_
#define MDU_SIGNER_REPO_DELEGATION_H_

#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "signer/repo/workspace.h"

namespace mdu::signer::repo {

struct DelegationSpec {
  std::string name;
  std::string from = "targets";
  std::vector<crypto::PublicKey> keys;
  int64_t threshold = 1;
  std::vector<std::string> paths;  // shell-style patterns, at least one
  bool terminating = false;
};

// Adds the role, or updates its keys, threshold, paths and flag if `from` already delegates it
// (its targets are kept). Refused if `from` uses hash bins.
Status Delegate(Workspace& ws, const DelegationSpec& spec, UnixTime now);

// TUF allows bit lengths 1..32. Up to kMaxEagerBinBitLength (16: 65,536 metadata files) every
// bin is created at once, empty, and published. Above it, creating 2^B roles is out of the
// question (2^32 files), so a bin is created when the first target is added to it and only
// existing bins are signed and published; a device looking for a target whose bin was never
// created finds no metadata for that bin in the snapshot, which means "no such target".
inline constexpr int kMaxBinBitLength = 32;

struct BinsSpec {
  std::string name_prefix = "bins";
  std::string from = "targets";
  std::vector<crypto::PublicKey> keys;
  int64_t threshold = 1;
  int bit_length = 8;  // 1..kMaxBinBitLength
};

// Delegates every target path of `from` to 2^bit_length bins "<prefix>-<hex>" and creates
// them all (empty) if bit_length <= kMaxEagerBinBitLength. Refused if `from` already has
// delegations.
Status DelegateBins(Workspace& ws, const BinsSpec& spec, UnixTime now);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_DELEGATION_H_
