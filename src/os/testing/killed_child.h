// For tests of what a process killed at a known point leaves behind: `body` runs in a
// forked child, which says whether it succeeded and then waits to be killed; the parent
// kills it with SIGKILL as soon as it has said so (or died), and reaps it.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace lockstep::os::testing {

struct KilledChild {
  bool answered = false;   // the child got as far as saying how `body` went
  bool succeeded = false;  // what `body` returned
  bool killed = false;     // it ended by a signal, not on its own
};

inline KilledChild RunThenKill9(const std::function<bool()>& body) {
  KilledChild out;
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return out;
  pid_t child = fork();
  if (child < 0) {
    close(ready[0]);
    close(ready[1]);
    return out;
  }
  if (child == 0) {
    close(ready[0]);
    // Nothing may unwind out of the child into the test runner (it would run the rest of
    // the suite a second time): a throw is a failure, and the child only ever _exits.
    char byte = 0;
    try {
      byte = body() ? 1 : 0;
    } catch (...) {
    }
    (void)!write(ready[1], &byte, 1);
    pause();  // killed here
    _exit(0);
  }
  close(ready[1]);
  char byte = 0;
  out.answered = read(ready[0], &byte, 1) == 1;
  out.succeeded = byte == 1;
  close(ready[0]);
  kill(child, SIGKILL);  // whatever happened: it is ours, and it must not outlive the test
  int status = 0;
  waitpid(child, &status, 0);
  out.killed = WIFSIGNALED(status);
  return out;
}

}  // namespace lockstep::os::testing
