// Alerts: a command run for the events a person wants to hear about (gave_up, unhealthy,
// restarting, start_failed, stopped, lock_lost), with the event's JSON line on its stdin and
// QC_EVENT, QC_NAME, QC_ACCOUNT, QC_STATUS in its environment (docs/events.md, "Alerts").
//
// It runs beside supervision and never blocks it: started like a program (its own process
// group), its exit reported by the event loop, killed after 30 s, its failure logged. At most
// 4 run at once; up to 100 more wait their turn, beyond that an alert is dropped and logged.
// A crash loop does not become a flood: one program's `restarting` alerts go out at most once
// a minute, and the next alert for it says how many were held back ("suppressed").
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qc/clock.hpp"
#include "qc/event_loop.hpp"
#include "qc/program_supervisor.hpp"

namespace qc {

class AlertRunner {
 public:
  static constexpr double kTimeoutS = 30;
  static constexpr std::size_t kAtOnce = 4;
  static constexpr std::size_t kQueued = 100;
  static constexpr double kRestartingEveryS = 60;

  AlertRunner(std::vector<std::string> command, EventLoop& loop);
  ~AlertRunner();  // kills what still runs
  AlertRunner(const AlertRunner&) = delete;
  AlertRunner& operator=(const AlertRunner&) = delete;

  // The sink for one program's events; `account` becomes QC_ACCOUNT. Lives as long as this.
  EventSink& sink_for(const std::optional<std::string>& account);

  // An exit the event loop reported: true when it was an alert's (then it is dealt with).
  bool on_exit(Pid pid, const ExitStatus& status);
  std::optional<SteadyTime> next_deadline() const;
  void on_deadline(SteadyTime now);
  // Whether an alert runs or waits: a tool that is done gives them kExitGraceS more, in its
  // event loop (so that their failures are still logged), then calls kill_remaining().
  bool busy() const;
  void kill_remaining();
  static constexpr double kExitGraceS = 5;

 private:
  struct Pending {
    std::string json;  // the event's JSON line
    std::string event, name, account, status;
  };
  struct Running;
  class ProgramSink;
  void fire(const SupervisorEvent& event, const std::optional<std::string>& account);
  void start_waiting();
  void start(const Pending& alert, SteadyTime now);

  std::vector<std::string> command_;
  EventLoop& loop_;
  std::vector<std::unique_ptr<ProgramSink>> sinks_;
  std::vector<std::unique_ptr<Running>> running_;
  std::deque<Pending> waiting_;
  std::map<std::string, SteadyTime> last_restarting_;  // per program
  std::map<std::string, int> suppressed_;              // restarting alerts held back, per program
};

}  // namespace qc
