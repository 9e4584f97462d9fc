// The workspace under concurrency and crashes: the flock that serializes signer commands, and
// the journal that makes a multi-file save all-or-nothing across a kill -9 at any step.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <vector>

#include "signer/repo/file_transaction.h"
#include "signer/repo/signing.h"
#include "signer/repo/targets_editor.h"
#include "signer/repo/workspace_lock.h"
#include "tests/unit/signer/repo_test_util.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;

class CrashLockTest : public testing::RepoTest {
 protected:
  // The base workspace: signed root and targets listing old.bin.
  void MakeBase(const fs::path& dir) {
    Workspace ws = Init(dir);
    AddTargetsSpec spec;
    spec.sources = {*SourceForFile(MakeFile("old.bin", "old release"), "")};
    spec.release.version = "1";
    spec.release.hardware_ids = {"hw"};
    spec.threads = 1;
    spec.now = testing::kNow;
    ASSERT_TRUE(AddTargets(ws, spec));
    SignAll(ws);
  }

  // One command's worth of changes touching several files: two new blobs (a target and its
  // SBOM), targets.json, withdrawn.json and root.json.
  static Status Mutate(const fs::path& dir, const fs::path& files) {
    MDU_ASSIGN_OR_RETURN(Workspace ws, Workspace::Open(dir));
    AddTargetsSpec spec;
    MDU_ASSIGN_OR_RETURN(TargetSource source, SourceForFile(files / "new.bin", ""));
    spec.sources = {source};
    spec.sbom = files / "new.sbom.json";
    spec.release.version = "2";
    spec.release.hardware_ids = {"hw"};
    spec.threads = 1;
    spec.now = testing::kNow + 10;
    MDU_RETURN_IF_ERROR(AddTargets(ws, spec));
    MDU_RETURN_IF_ERROR(WithdrawTarget(ws, "old.bin", "CVE", "tester", testing::kNow + 10));
    MDU_RETURN_IF_ERROR(ws.Renew("root", testing::kNow + 10));
    return ws.Save();
  }

  // What a workspace means: every file but the lock, temporaries and target blobs (blobs are
  // content-addressed; an unreferenced one is invisible). Referenced blobs must exist.
  static std::map<std::string, std::string> State(const fs::path& dir) {
    std::map<std::string, std::string> state;
    for (auto& [name, content] : testing::Snapshot(dir)) {
      if (name == kLockFileName || name == "tmp" || name.starts_with("tmp/") ||
          name.starts_with("targets/") || name == "targets") {
        continue;
      }
      state[name] = content;
    }
    auto ws = Workspace::Open(dir, LockMode::kNone);
    EXPECT_TRUE(ws) << ws.error().ToString();
    if (ws) {
      for (const std::string& role : ws->TargetsRoleNames()) {
        for (const auto& [name, file] : ws->TargetsRole(role)->role.targets) {
          EXPECT_TRUE(fs::exists(dir / "targets" / std::string(*file.Sha256()))) << name;
        }
      }
    }
    return state;
  }

  fs::path Files() const { return tmp_.path() / "files"; }
};

TEST_F(CrashLockTest, KillAtEveryStepOfASaveLeavesTheWorkspaceOldOrNew) {
  const fs::path base = tmp_.path() / "base";
  MakeBase(base);
  MakeFile("new.bin", "new release");
  MakeFile("new.sbom.json", R"({"bomFormat": "CycloneDX", "specVersion": "1.5"})");
  const auto old_state = State(base);

  // The whole save once, counting its steps.
  const fs::path reference = tmp_.path() / "reference";
  fs::copy(base, reference, fs::copy_options::recursive);
  std::vector<std::string> steps;
  SetCommitStepHookForTesting([&](std::string_view step) { steps.emplace_back(step); });
  auto mutated = Mutate(reference, Files());
  SetCommitStepHookForTesting(nullptr);
  ASSERT_TRUE(mutated) << mutated.error().ToString();
  const auto new_state = State(reference);
  ASSERT_NE(old_state, new_state);
  ASSERT_GE(steps.size(), 8u);  // 3 writes, blobs, sync, journal, 3 renames, ...

  bool saw_old = false, saw_new = false;
  for (size_t crash_at = 0; crash_at < steps.size(); ++crash_at) {
    SCOPED_TRACE("killed before step " + std::to_string(crash_at) + ": " + steps[crash_at]);
    const fs::path dir = tmp_.path() / ("crash-" + std::to_string(crash_at));
    fs::copy(base, dir, fs::copy_options::recursive);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      size_t count = 0;
      SetCommitStepHookForTesting([&](std::string_view) {
        if (count++ == crash_at) ::_exit(42);  // no destructors, no cleanup: like kill -9
      });
      static_cast<void>(Mutate(dir, Files()));
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 42);

    // A crash during the recovery itself (its first step, if it has one) changes nothing.
    const pid_t again = ::fork();
    ASSERT_GE(again, 0);
    if (again == 0) {
      SetCommitStepHookForTesting([](std::string_view) { ::_exit(43); });
      static_cast<void>(Workspace::Open(dir));
      ::_exit(0);
    }
    ASSERT_EQ(::waitpid(again, &status, 0), again);

    // The next command recovers: old or new, never a mix; no temporaries or journal remain.
    { ASSERT_TRUE(Workspace::Open(dir)); }
    const auto state = State(dir);
    const bool is_old = state == old_state, is_new = state == new_state;
    EXPECT_TRUE(is_old || is_new);
    saw_old |= is_old;
    saw_new |= is_new;
    EXPECT_FALSE(fs::exists(dir / kJournalFileName));
    EXPECT_TRUE(fs::is_empty(dir / "tmp"));
    // Before the journal is written the save did not happen; from then on it did.
    const bool committed =
        crash_at >
        static_cast<size_t>(std::find(steps.begin(), steps.end(), "journal") - steps.begin());
    EXPECT_EQ(is_new, committed);
  }
  EXPECT_TRUE(saw_old);
  EXPECT_TRUE(saw_new);
}

TEST_F(CrashLockTest, ATamperedJournalCannotMoveFilesOutsideTheWorkspace) {
  MakeBase(ws_dir());
  testing::WriteAll(ws_dir() / "tmp" / "x", "evil");
  testing::WriteAll(ws_dir() / kJournalFileName, R"({"renames": [["tmp/x", "../outside.json"]]})");
  auto opened = Workspace::Open(ws_dir());
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message().find("leaves the workspace"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp_.path() / "outside.json"));
}

TEST_F(CrashLockTest, SecondWriterFailsAtOnceNamingTheHolder) {
  MakeBase(ws_dir());
  {
    auto writer = Workspace::Open(ws_dir());
    ASSERT_TRUE(writer) << writer.error().ToString();
    auto second = Workspace::Open(ws_dir());
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().kind(), ErrorKind::kPolicy);
    EXPECT_NE(second.error().message().find("pid " + std::to_string(::getpid())), std::string::npos)
        << second.error().message();
    auto reader = Workspace::Open(ws_dir(), LockMode::kShared);
    ASSERT_FALSE(reader);
    EXPECT_NE(reader.error().message().find("in use"), std::string::npos);
  }
  // Released with the Workspace: readers share, a writer waits for none of them to be left.
  {
    auto reader1 = Workspace::Open(ws_dir(), LockMode::kShared);
    auto reader2 = Workspace::Open(ws_dir(), LockMode::kShared);
    ASSERT_TRUE(reader1);
    ASSERT_TRUE(reader2);
    EXPECT_FALSE(reader1->Save());  // read-only
    auto writer = Workspace::Open(ws_dir());
    ASSERT_FALSE(writer);
    EXPECT_NE(writer.error().message().find("only reads"), std::string::npos)
        << writer.error().message();
  }
  EXPECT_TRUE(Workspace::Open(ws_dir()));
}

TEST_F(CrashLockTest, LockIsReleasedWhenTheHolderDies) {
  MakeBase(ws_dir());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto ws = Workspace::Open(ws_dir());
    const char byte = ws ? 'y' : 'n';
    static_cast<void>(::write(ready[1], &byte, 1));
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, 'y');
  auto blocked = Workspace::Open(ws_dir());
  ASSERT_FALSE(blocked);
  EXPECT_NE(blocked.error().message().find("pid " + std::to_string(pid)), std::string::npos);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  EXPECT_TRUE(Workspace::Open(ws_dir()));  // no stale lock after kill -9
}

}  // namespace
}  // namespace mdu::signer::repo
