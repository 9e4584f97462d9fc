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

// Largest bit length we create: 2^16 bins are 65,536 metadata files.
inline constexpr int kMaxBinBitLength = 16;

struct BinsSpec {
  std::string name_prefix = "bins";
  std::string from = "targets";
  std::vector<crypto::PublicKey> keys;
  int64_t threshold = 1;
  int bit_length = 8;  // 1..kMaxBinBitLength
};

// Delegates every target path of `from` to 2^bit_length bins "<prefix>-<hex>" and creates
// them all (empty). Refused if `from` already has delegations.
Status DelegateBins(Workspace& ws, const BinsSpec& spec, UnixTime now);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_DELEGATION_H_
