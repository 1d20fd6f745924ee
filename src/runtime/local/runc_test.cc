#include "runtime/local/runc.h"

#include <gtest/gtest.h>

namespace lockstep::runtime::local {
namespace {

// Lines as runc 1.1 writes them with --log-format json (stderr also gets a plain copy).
TEST(RuncErrors, KeepsTheMessagesOfErrorEntriesOnly) {
  std::string log =
      R"({"level":"warning","msg":"cgroup v1 is deprecated","time":"2026-12-02T09:34:11Z"})"
      "\n"
      R"({"level":"error","msg":"runc run failed: unable to start container process: exec: \"/nope\": stat /nope: no such file or directory","time":"2026-12-02T09:34:11Z"})"
      "\n"
      "runc run failed: unable to start container process: exec: \"/nope\": stat /nope: no such "
      "file or directory\n";
  EXPECT_EQ(RuncErrors(log),
            "unable to start container process: exec: \"/nope\": stat /nope: no such file or "
            "directory");
}

TEST(RuncErrors, JoinsSeveralAndKeepsMessagesWithoutALeadIn) {
  std::string log = R"({"level":"error","msg":"container does not exist"})"
                    "\n"
                    R"({"level":"fatal","msg":"runc kill failed: no such process"})";
  EXPECT_EQ(RuncErrors(log), "container does not exist; no such process");
}

TEST(RuncErrors, TextThatHoldsNoEntriesIsGivenTrimmed) {
  EXPECT_EQ(RuncErrors("  runc: command not found\n"), "runc: command not found");
  EXPECT_EQ(RuncErrors(""), "");
  // Broken or foreign JSON is not an entry.
  EXPECT_EQ(RuncErrors("{\"level\":1}\n{oops"), "{\"level\":1}\n{oops");
}

}  // namespace
}  // namespace lockstep::runtime::local
