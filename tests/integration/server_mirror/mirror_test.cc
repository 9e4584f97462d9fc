// repo-server's static mirror served by a real nginx, read by real TUF clients (issue 4):
// repo-server (--static-mirror-dir) publishes a release, nginx serves <mirror>/current on a
// loopback port, and our client-agent (TUF client mode) or tuf-js's Updater refreshes and
// downloads a target through nginx. A second publish swaps the mirror; the same client, from
// its trusted state, must then see the new targets version and the new target.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "tests/integration/server/server_fixture.h"
#include "tests/integration/server_mirror/nginx_process.h"

extern char** environ;

namespace mdu::server {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;
using testing::Content;
using testing::LatestUpload;
using testing::NginxProcess;
using testing::ServerProcess;
using testing::Upload;

struct RunResult {
  int code = -1;
  std::string output;  // stdout and stderr
};

// Runs a program to completion with the test's environment; output captured through a file.
RunResult RunProgram(const std::vector<std::string>& args, const fs::path& output_file) {
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  RunResult result;
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0) {
    result.code = ServerProcess::WaitPid(pid);
  }
  posix_spawn_file_actions_destroy(&actions);
  auto text = io::ReadFileBounded(output_file, 1u << 20);
  if (text) result.output = *text;
  return result;
}

class MirrorTest : public testing::ServerFixture {
 protected:
  MirrorTest() : ServerFixture("server_mirror") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServerFixture::SetUp());
    ASSERT_NO_FATAL_FAILURE(
        Start(Concat(InsecureFlags(), {"--static-mirror-dir", (dir_ / "mirror").string()})));
    channel_ = Insecure(port_);
    operator_ = v1::OperatorService::NewStub(channel_);

    // Release 1: targets v2 with one target.
    PublishRelease("pump/fw-1.bin", Content(200000, 1), 2);
    nginx_ = std::make_unique<NginxProcess>(dir_ / "nginx", dir_ / "mirror" / "current");
    ASSERT_NE(nginx_->port(), 0) << "nginx did not start:\n" << nginx_->Log();
  }

  void TearDown() override {
    nginx_.reset();  // stopped on every path, failed assertions included
    operator_.reset();
    channel_.reset();
    ServerFixture::TearDown();
  }

  // Adds `path` to the top-level targets role at `targets_version` and publishes the result.
  void PublishRelease(const std::string& path, const std::string& content,
                      int64_t targets_version) {
    sim_->AddTarget("targets", path, content);
    sim_->Role("targets").common.version = targets_version;
    sim_->UpdateSnapshot();
    grpc::Status status = Publish(LatestUpload(*sim_));
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  grpc::Status Publish(const Upload& upload) {
    testing::PublishOptions options;
    options.description = "mirror test release";
    return testing::PublishUpload(*operator_, upload, options);
  }

  RunResult Agent(std::vector<std::string> args) {
    args.insert(args.begin(), MDU_CLIENT_AGENT_BINARY);
    return RunProgram(args, dir_ / "agent.out");
  }
  RunResult AgentRefresh() {
    return Agent({"--metadata-url", nginx_->url() + "/metadata", "--metadata-dir",
                  (dir_ / "md").string(), "refresh"});
  }
  RunResult AgentDownload(const std::string& name) {
    return Agent({"--metadata-url", nginx_->url() + "/metadata", "--metadata-dir",
                  (dir_ / "md").string(), "--target-name", name, "--target-dir",
                  (dir_ / "td").string(), "--target-base-url", nginx_->url() + "/targets",
                  "download"});
  }

  std::string Read(const fs::path& path) {
    auto bytes = io::ReadFileBounded(path, 16u << 20);
    return bytes ? *bytes : std::string("<missing " + path.string() + ">");
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::OperatorService::Stub> operator_;
  std::unique_ptr<NginxProcess> nginx_;
};

TEST_F(MirrorTest, ClientAgentReadsTheMirrorThroughNginxAndSeesTheNextPublish) {
  RunResult init = Agent({"--metadata-dir", (dir_ / "md").string(), "init",
                          (dir_ / "root.json").string()});
  ASSERT_EQ(init.code, 0) << init.output;
  RunResult refresh = AgentRefresh();
  ASSERT_EQ(refresh.code, 0) << refresh.output << nginx_->Log();
  EXPECT_EQ(Read(dir_ / "md" / "timestamp.json"), sim_->MetadataFile("timestamp.json"));
  EXPECT_EQ(Read(dir_ / "md" / "targets.json"), sim_->MetadataFile("2.targets.json"));
  RunResult download = AgentDownload("pump/fw-1.bin");
  ASSERT_EQ(download.code, 0) << download.output;
  EXPECT_EQ(Read(dir_ / "td" / "pump%2Ffw-1.bin"), Content(200000, 1));
  // nginx, not some other path, served the client: its access log has the requests.
  const std::string access = nginx_->AccessLog();
  EXPECT_NE(access.find("\"GET /metadata/timestamp.json HTTP/1.1\" 200"), std::string::npos)
      << access;
  EXPECT_NE(access.find("GET /" + sim_->TargetPath("targets", "pump/fw-1.bin")), std::string::npos)
      << access;
  // Not the only thing the client accepts: a name the release does not list fails.
  EXPECT_EQ(AgentDownload("pump/absent.bin").code, 1);

  // Release 2: the server swaps the mirror; the client moves on from its trusted state.
  const fs::path before = fs::read_symlink(dir_ / "mirror" / "current");
  PublishRelease("pump/fw-2.bin", Content(300000, 2), 3);
  EXPECT_NE(fs::read_symlink(dir_ / "mirror" / "current"), before);
  refresh = AgentRefresh();
  ASSERT_EQ(refresh.code, 0) << refresh.output << nginx_->Log();
  EXPECT_EQ(Read(dir_ / "md" / "timestamp.json"), sim_->MetadataFile("timestamp.json"));
  EXPECT_EQ(Read(dir_ / "md" / "targets.json"), sim_->MetadataFile("3.targets.json"));
  download = AgentDownload("pump/fw-2.bin");
  ASSERT_EQ(download.code, 0) << download.output;
  EXPECT_EQ(Read(dir_ / "td" / "pump%2Ffw-2.bin"), Content(300000, 2));
}

TEST_F(MirrorTest, TufJsReadsTheMirrorThroughNginxAndSeesTheNextPublish) {
  const char* skip = std::getenv("MDU_SKIP_INTEROP");
  if (skip != nullptr && std::string(skip) == "1") GTEST_SKIP() << "MDU_SKIP_INTEROP=1";
  ASSERT_FALSE(std::string(MDU_NODE_EXECUTABLE).empty())
      << "node not found (scripts/install-deps.sh), or set MDU_SKIP_INTEROP=1";
  auto tufjs = [&](const std::string& targets_version, const std::string& path,
                   const std::string& content) {
    return RunProgram({MDU_NODE_EXECUTABLE, MDU_TUFJS_MIRROR_CLIENT, nginx_->url(),
                (dir_ / "tufjs-md").string(), (dir_ / "tufjs-td").string(),
                (dir_ / "root.json").string(), targets_version, path,
                std::string(crypto::Sha256Hex(content))},
               dir_ / "node.out");
  };
  RunResult first = tufjs("2", "pump/fw-1.bin", Content(200000, 1));
  ASSERT_EQ(first.code, 0) << first.output << nginx_->Log();
  EXPECT_EQ(Read(dir_ / "tufjs-md" / "timestamp.json"), sim_->MetadataFile("timestamp.json"));

  PublishRelease("pump/fw-2.bin", Content(300000, 2), 3);
  RunResult second = tufjs("3", "pump/fw-2.bin", Content(300000, 2));
  ASSERT_EQ(second.code, 0) << second.output << nginx_->Log();
  EXPECT_EQ(Read(dir_ / "tufjs-md" / "targets.json"), sim_->MetadataFile("3.targets.json"));
  // A stale expectation fails: the script really checks the version it was told.
  EXPECT_EQ(tufjs("2", "pump/fw-2.bin", Content(300000, 2)).code, 1);
}

}  // namespace
}  // namespace mdu::server
