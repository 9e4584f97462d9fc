// The API messages (proto/mdu/v1/repository.proto) as the agent builds, stores and parses them.
// Agent code names them through `wire::`: they are the protobuf-lite form of the schema
// (package mdu.v1.wire, generated at build time by proto/CMakeLists.txt, target
// mdu_proto_wire), so the agent links libprotobuf-lite and not the full libprotobuf (about
// 1.5 MiB less resident memory on the device). Same fields and wire encoding as mdu::v1, which
// the server uses; only the MessageLite API exists (no descriptors, reflection or text format).
#ifndef MDU_CLIENT_AGENT_REPORT_WIRE_MESSAGES_H_
#define MDU_CLIENT_AGENT_REPORT_WIRE_MESSAGES_H_

#include "mdu/v1/repository_wire.pb.h"

namespace mdu::agent {
namespace wire = ::mdu::v1::wire;
}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_REPORT_WIRE_MESSAGES_H_
