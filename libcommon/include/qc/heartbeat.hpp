// Protocol v1.0 over ZeroMQ (docs/protocol.md): the Lazy Pirate client, the responder and the PUB
// check. No ZeroMQ type appears here; this is the only part of libcommon that links libzmq
// (the qc_common_zmq target), so tools without ZeroMQ load none of it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "qc/native_handle.hpp"
#include "qc/result.hpp"

namespace qc::heartbeat {

enum class Outcome { kOk, kWarning, kCritical, kUnknown };
const char* outcome_name(Outcome outcome);  // "OK", "WARNING", "CRITICAL", "UNKNOWN"

struct ProbeOptions {
  std::string endpoint = "tcp://127.0.0.1:5555";
  std::string action = "HEARTBEAT";
  std::string payload_json = "{}";
  double timeout_s = 5;  // per attempt
  int retries = 0;       // extra attempts, each on a fresh socket
};

struct ProbeReport {
  Outcome outcome = Outcome::kCritical;  // kOk or kCritical; WARNING is the caller's (-w)
  std::string req_id;
  std::optional<std::string> status;  // the reply's status
  std::optional<double> rtt_ms;       // of the attempt that was answered
  std::string data_json = "null";
  // The peer's own error string exactly as it came (an ERROR reply), or why there was no
  // good reply (a timeout, a malformed reply).
  std::optional<std::string> error;
  // For people: the whole reason, e.g. "ERROR: gateway busy" (empty for a success).
  std::string problem;
  int attempts = 0;
  bool interrupted = false;           // `interrupt` became readable: stop probing
};

// Makes every blocking ZeroMQ call of this process return at once, for good
// (zmq_ctx_shutdown): for a thread that watches signals while another thread blocks in a
// probe or a responder. Without an interrupt handle, those block in ZeroMQ itself (a
// receive timeout, no zmq_poll per message), which is what keeps round trips short.
void interrupt_all();

// A REQ client. Between probes the socket is kept while it is healthy; after a timeout it is
// closed with linger 0 and the next attempt uses a fresh one (the Lazy Pirate pattern).
class Client {
 public:
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  // Sends one request (retrying per options) and checks the reply. Returns early when
  // `interrupt` becomes readable (kInvalidHandle: none; then interrupt_all() stops it).
  ProbeReport probe(const ProbeOptions& options, NativeHandle interrupt);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A REP responder: answers whatever arrives (random bytes, several frames, up to 16 MiB).
class Responder {
 public:
  // Binds ENDPOINT. Errors say which endpoint and why (address in use, bad syntax).
  static Result<std::unique_ptr<Responder>> bind(const std::string& endpoint,
                                                 const std::string& service);
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  // Serves until `interrupt` becomes readable (kInvalidHandle: until interrupt_all());
  // returns how many requests it answered.
  Result<std::uint64_t> serve(NativeHandle interrupt);

 private:
  struct Impl;
  explicit Responder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// SUB check: the first message published on ENDPOINT within the timeout (its size and a
// printable preview), nullopt when none came, or an error (bad endpoint).
struct Published {
  std::size_t bytes = 0;
  int frames = 0;
  std::string preview;
};
Result<std::optional<Published>> first_published(const std::string& endpoint, double timeout_s,
                                                 NativeHandle interrupt, bool* interrupted);

}  // namespace qc::heartbeat
