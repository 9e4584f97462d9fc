// The API messages (proto/mdu/v1/repository.proto) as the agent builds, stores and parses them.
// Agent code names them through `wire::` so the generated code behind them can change (for
// example a lighter runtime) without touching every user.
#ifndef MDU_CLIENT_AGENT_REPORT_WIRE_MESSAGES_H_
#define MDU_CLIENT_AGENT_REPORT_WIRE_MESSAGES_H_

#include "mdu/v1/repository.pb.h"

namespace mdu::agent {
namespace wire = ::mdu::v1;
}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_REPORT_WIRE_MESSAGES_H_
