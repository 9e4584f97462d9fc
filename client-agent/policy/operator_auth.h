// Operator authorizations on the device side. The format (sign, verify, encode) lives in core
// (core/metadata/operator_authorization.h) so that the signer's `authorize` command and the
// agent share one implementation; the agent's policy code keeps using these names.
#ifndef MDU_CLIENT_AGENT_POLICY_OPERATOR_AUTH_H_
#define MDU_CLIENT_AGENT_POLICY_OPERATOR_AUTH_H_

#include "core/metadata/operator_authorization.h"

namespace mdu::agent::policy {

using metadata::Authorization;
using metadata::AuthorizationRequest;
using metadata::kMaxClockSkewSeconds;
using metadata::kOperatorAuthorizationType;
using metadata::SignAuthorization;
using metadata::VerifyAuthorization;

}  // namespace mdu::agent::policy

#endif  // MDU_CLIENT_AGENT_POLICY_OPERATOR_AUTH_H_
