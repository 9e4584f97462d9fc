// Helpers for the repo-server tests: a RepositorySimulator whose metadata expires relative to a
// chosen "now", and the set of files one publish of the simulator's latest state uploads.
#ifndef MDU_TESTS_INTEGRATION_SERVER_SERVER_TEST_UTIL_H_
#define MDU_TESTS_INTEGRATION_SERVER_SERVER_TEST_UTIL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/crypto/hash.h"
#include "tests/sim/repository_simulator.h"

namespace mdu::server::testing {

// A simulator (root v1, timestamp/snapshot v1, targets v1) with every role expiring at
// `expires`, already re-signed and served.
inline std::unique_ptr<sim::RepositorySimulator> MakeSim(metadata::UnixTime expires) {
  auto sim = std::make_unique<sim::RepositorySimulator>();
  sim->root.common.expires = expires;
  sim->timestamp.common.expires = expires;
  sim->snapshot.common.expires = expires;
  sim->Role("targets").common.expires = expires;
  sim->PublishRoot();
  sim->UpdateSnapshot();
  return sim;
}

struct Upload {
  std::map<std::string, std::string, std::less<>> metadata;  // file name -> bytes
  std::map<std::string, std::string, std::less<>> targets;   // sha256 -> content
};

// Roots newer than `after_root`, timestamp.json, the snapshot it names, the targets roles that
// snapshot lists (at the listed versions) and the content of every target.
inline Upload LatestUpload(const sim::RepositorySimulator& sim, int64_t after_root = 0) {
  Upload upload;
  for (int64_t v = after_root + 1; v <= sim.root.common.version; ++v) {
    std::string name = std::to_string(v) + ".root.json";
    upload.metadata[name] = sim.MetadataFile(name);
  }
  upload.metadata["timestamp.json"] = sim.MetadataFile("timestamp.json");
  std::string snapshot = std::to_string(sim.timestamp.snapshot_meta.version) + ".snapshot.json";
  upload.metadata[snapshot] = sim.MetadataFile(snapshot);
  for (const auto& [name, meta] : sim.snapshot.meta) {
    std::string file = std::to_string(meta.version) + "." + name;
    upload.metadata[file] = sim.MetadataFile(file);
  }
  for (const auto& [role, targets] : sim.roles) {
    for (const auto& [path, file] : targets.targets) {
      upload.targets[std::string(*file.Sha256())] = sim.files.at(sim.TargetPath(role, path));
    }
  }
  return upload;
}

// Deterministic pseudo-random content.
inline std::string Content(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<char>(x);
  }
  return out;
}

}  // namespace mdu::server::testing

#endif  // MDU_TESTS_INTEGRATION_SERVER_SERVER_TEST_UTIL_H_
