// The commands that reach what runs in an environment, through lockstep serve:
//   lockstep invoke ENV FUNCTION [--event FILE|-] [--output json]
//                                       the output on stdout; exit 0, or 1 if the run failed
//   lockstep logs ENV SERVICE [--follow] [--bytes N]
//                                       a service instance's log, or a function's last run's
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <iterator>
#include <thread>

#include "base/strings.h"
#include "cli/cli.h"
#include "cli/command.h"
#include "cli/engine_client.h"
#include "core/release.h"
#include "os/file.h"

namespace lockstep::cli {

namespace bj = boost::json;

namespace {

struct InvokeArgs {
  std::string environment, function, event;
  ServerFlags server;
};

struct LogsArgs {
  std::string environment, service;
  bool follow = false;
  uint64_t bytes = 64 << 10;
  ServerFlags server;
};

Status CheckNames(const std::string& environment, const std::string& name) {
  for (const std::string* s : {&environment, &name}) {
    if (!IsResourceName(*s)) {
      return InvalidArgument("'" + *s +
                             "' is not a name: 1-63 of a-z, 0-9 and '-', not starting with '-'");
    }
  }
  return Status::Ok();
}

// The event: a file's bytes, stdin's with "-", or nothing.
Result<std::string> ReadEvent(const std::string& from) {
  constexpr uint64_t kMax = 1 << 20;  // what the server takes
  if (from.empty()) return std::string();
  if (from != "-") return os::ReadFile(from, kMax);
  std::string event((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (event.size() > kMax) return OutOfRange("the event on stdin is over 1 MiB");
  return event;
}

// A numeric header of the answer as a JSON number; null when absent (the run did not
// start) or not a number.
bj::value HeaderNumber(const client::HttpResponse& answer, const std::string& name) {
  std::string text = answer.Header(name);
  const bool negative = text.starts_with('-');
  std::optional<uint64_t> n = ParseUint(negative ? text.substr(1) : text);
  if (!n || *n > INT64_MAX) return nullptr;
  return negative ? -static_cast<int64_t>(*n) : static_cast<int64_t>(*n);
}

}  // namespace

void AddFunctionCommands(CLI::App& app, Globals& g, ExitCode* exit) {
  DefineCommand<InvokeArgs>(
      app, exit, "invoke", "run FUNCTION of ENV once with an event; prints its output",
      [&g](CLI::App& sub, InvokeArgs& a) {
        sub.add_option("ENV", a.environment, "the environment")->required();
        sub.add_option("FUNCTION", a.function, "the function")->required();
        sub.add_option("--event", a.event, "the event: a file, or - for stdin (default: none)");
        AddServerFlags(sub, a.server);
        AddOutputOption(sub, g);
      },
      [&g, exit](InvokeArgs& a) -> Status {
        LS_RETURN_IF_ERROR(CheckNames(a.environment, a.function));
        LS_ASSIGN_OR_RETURN(std::string event, ReadEvent(a.event));
        EngineClient client(a.server);
        LS_ASSIGN_OR_RETURN(
            client::HttpResponse answer,
            client.Send("POST",
                        "environments/" + a.environment + "/functions/" + a.function + "/invoke",
                        event, "application/octet-stream"));
        std::string failure = answer.Header("x-lockstep-function-error");
        if (g.output == "json") {
          std::cout << bj::serialize(bj::object{
                           {"invocation", answer.Header("x-lockstep-invocation")},
                           {"release", answer.Header("x-lockstep-release")},
                           {"exit_code", HeaderNumber(answer, "x-lockstep-exit-code")},
                           {"duration_ms", HeaderNumber(answer, "x-lockstep-duration-ms")},
                           {"error", failure.empty() ? bj::value(nullptr) : bj::value(failure)},
                           {"output", answer.body}})
                    << "\n";
        } else {
          std::cout << answer.body << std::flush;
        }
        if (!failure.empty()) {
          std::cerr << "lockstep: " << a.function << " failed (" << failure << ") after "
                    << answer.Header("x-lockstep-duration-ms") << " ms; its log: lockstep logs "
                    << a.environment << " " << a.function << "\n";
          *exit = ExitCode::kError;
        }
        return Status::Ok();
      });

  DefineCommand<LogsArgs>(
      app, exit, "logs", "the log of SERVICE in ENV (a function: its last run's)",
      [](CLI::App& sub, LogsArgs& a) {
        sub.add_option("ENV", a.environment, "the environment")->required();
        sub.add_option("SERVICE", a.service, "the service or function")->required();
        sub.add_flag("-f,--follow", a.follow, "keep printing what is written, until interrupted");
        sub.add_option("--bytes", a.bytes, "how much of the end to print first")
            ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20));
        AddServerFlags(sub, a.server);
      },
      [](LogsArgs& a) -> Status {
        LS_RETURN_IF_ERROR(CheckNames(a.environment, a.service));
        EngineClient client(a.server);
        const std::string path = "environments/" + a.environment + "/services/" + a.service +
                                 "/logs?bytes=" + std::to_string(a.bytes);
        LS_ASSIGN_OR_RETURN(client::HttpResponse first, client.Send("GET", path, "", ""));
        std::cout << first.body << std::flush;
        std::string seen = std::move(first.body);
        std::string source = first.Header("x-lockstep-log-of");
        while (a.follow) {
          // A log grows at its writer's pace; a read twice a second keeps up with a person.
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          LS_ASSIGN_OR_RETURN(client::HttpResponse next, client.Send("GET", path, "", ""));
          if (next.Header("x-lockstep-log-of") != source) {
            source = next.Header("x-lockstep-log-of");
            std::cout << "--- now " << source << " ---\n";
            seen.clear();
          }
          // The server trims the front of a long log: what is new is past the overlap.
          std::cout << NewAfterOverlap(seen, next.body) << std::flush;
          seen = std::move(next.body);
        }
        return Status::Ok();
      });
}

}  // namespace lockstep::cli
