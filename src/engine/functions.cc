#include "engine/functions.h"

#include <chrono>
#include <map>

#include "deploy/schedule.h"
#include "engine/plan.h"

namespace lockstep::engine {

namespace {

// The current record of `function` in `environment` and its release.
struct Live {
  state::CurrentRecord current;
  deploy::DeployedService service;
};

Result<std::map<std::string, Live>> LiveFunctions(state::StateStore& store,
                                                  const std::string& environment) {
  std::map<std::string, state::CurrentRecord> current;
  {
    LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, store.Begin());
    LS_ASSIGN_OR_RETURN(current, tx->Current(environment));
  }
  std::map<std::string, Live> out;
  for (auto& [name, c] : current) {
    LS_ASSIGN_OR_RETURN(deploy::DeployedService d,
                        FromRecord(name, c.version, c.release_spec, c.details));
    out.emplace(name, Live{std::move(c), std::move(d)});
  }
  return out;
}

}  // namespace

Functions::Functions(state::StateStore& store, runtime::Target& target)
    : store_(store), target_(target) {}

Functions::~Functions() {
  WaitIdle();
  std::lock_guard lock(mutex_);
  ReapLocked();
}

Result<FunctionRun> Functions::Call(const std::string& environment, const std::string& function,
                                    const std::string& event, const std::string& actor) {
  LS_ASSIGN_OR_RETURN(auto live, LiveFunctions(store_, environment));
  auto it = live.find(function);
  if (it == live.end()) {
    return NotFound(environment + " runs no function " + function + " (`lockstep status " +
                    environment + "` lists what it runs)");
  }
  const Release& release = it->second.service.release;
  if (release.config.kind != ReleaseKind::kFunction) {
    return FailedPrecondition(function + " is a service in " + environment +
                              ": services answer on their public port; functions are invoked");
  }
  state::InvocationRecord record{.environment = environment,
                                 .function = function,
                                 .release_id = it->second.current.release_id,
                                 .trigger = "call",
                                 .actor = actor};
  LS_ASSIGN_OR_RETURN(std::optional<int64_t> id, store_.StartInvocation(record));
  record.id = id.value_or(0);
  LS_ASSIGN_OR_RETURN(runtime::Invocation ran, Execute(record, release, event));
  return FunctionRun{std::move(record), std::move(ran)};
}

Result<runtime::Invocation> Functions::Execute(state::InvocationRecord& record,
                                               const Release& release, const std::string& event) {
  runtime::Placement where{record.environment, record.function};
  Result<runtime::Invocation> ran = target_.Invoke(where, record.release_id, {event});
  if (ran.status().code() == Code::kNotFound) {
    // The target lost the prepared release (its runtime directory was wiped, say): the
    // release is recorded whole, so it is made runnable again.
    Result<runtime::PreparedRelease> prepared = target_.Prepare(release);
    ran = prepared.ok() ? target_.Invoke(where, record.release_id, {event})
                        : Result<runtime::Invocation>(prepared.status());
  }
  if (ran.ok()) {
    record.invocation_id = ran->invocation_id;
    record.exit_code = ran->exit_code;
    record.duration_ms = ran->duration.count();
    record.timed_out = ran->timed_out;
    record.out_of_memory = ran->out_of_memory;
  } else {
    record.error = ran.status().message();
  }
  // The run happened whether or not its record could be completed: its caller gets the
  // output, and the record stays "running" until the next start abandons it.
  (void)store_.FinishInvocation(record);
  return ran;
}

Result<int> Functions::RunDue(int64_t now) {
  {
    std::lock_guard lock(mutex_);
    ReapLocked();
  }
  const int64_t minute = now - now % 60;
  LS_ASSIGN_OR_RETURN(std::vector<state::EnvironmentRecord> environments, store_.Environments());
  int started = 0;
  for (const state::EnvironmentRecord& env : environments) {
    Result<std::map<std::string, Live>> live = LiveFunctions(store_, env.name);
    if (!live.ok()) continue;
    for (auto& [name, l] : *live) {
      if (l.service.schedule.empty() || l.service.release.config.kind != ReleaseKind::kFunction) {
        continue;
      }
      Result<deploy::Cron> cron = deploy::ParseCron(l.service.schedule);
      if (!cron.ok() || !deploy::CronMatches(*cron, minute) || Running(env.name, name)) continue;
      state::InvocationRecord record{.environment = env.name,
                                     .function = name,
                                     .release_id = l.current.release_id,
                                     .trigger = "schedule",
                                     .actor = "schedule",
                                     .scheduled_for = minute};
      // Claimed here, before the run's thread exists: a minute is run once, however many
      // ticks fall in it and whichever server made them.
      Result<std::optional<int64_t>> id = store_.StartInvocation(record);
      if (!id.ok() || !*id) continue;
      record.id = **id;
      if (Spawn(std::move(record), l.service.release)) ++started;
    }
  }
  return started;
}

bool Functions::Running(const std::string& environment, const std::string& function) {
  std::lock_guard lock(mutex_);
  for (const Job& job : jobs_) {
    if (!job.done && job.environment == environment && job.function == function) return true;
  }
  return false;
}

bool Functions::Spawn(state::InvocationRecord record, Release release) {
  std::lock_guard lock(mutex_);
  Job& job = jobs_.emplace_back();
  job.environment = record.environment;
  job.function = record.function;
  try {
    job.thread = std::thread([this, &job, record, release = std::move(release)]() mutable {
      try {
        (void)Execute(record, release, "");
      } catch (const std::exception& e) {
        record.error = std::string("the run failed: ") + e.what();
        (void)store_.FinishInvocation(record);
      }
      std::lock_guard done(mutex_);
      job.done = true;
      idle_.notify_all();
    });
  } catch (const std::system_error& e) {
    // No thread to run it on: the claimed minute is recorded as failed, not left running.
    jobs_.pop_back();
    record.error = std::string("no thread to run it: ") + e.what();
    (void)store_.FinishInvocation(record);
    return false;
  }
  return true;
}

void Functions::WaitIdle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] {
    for (const Job& job : jobs_) {
      if (!job.done) return false;
    }
    return true;
  });
}

void Functions::ReapLocked() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->done) {
      it->thread.join();
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace lockstep::engine
