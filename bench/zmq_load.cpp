// bench helper (compiled by heartbeat.sh against Debian's libzmq):
//   zmq_load load ENDPOINT COUNT WINDOW   DEALER client keeping WINDOW Protocol v1.0 requests
//                                         in flight until COUNT replies came back
//   zmq_load server ENDPOINT              bare REP echo: no JSON, the floor for round trips
//   zmq_load floor ENDPOINT COUNT         bare REQ ping-pong; prints each round trip in us
#include <chrono>
#include <cstdio>
#include <string>

#include <zmq.hpp>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const std::string mode = argv[1];
  zmq::context_t ctx(1);
  if (mode == "server") {
    zmq::socket_t s(ctx, zmq::socket_type::rep);
    s.bind(argv[2]);
    for (;;) {
      zmq::message_t m;
      if (!s.recv(m)) continue;
      s.send(m, zmq::send_flags::none);
    }
  }
  const long count = std::stol(argv[3]);
  if (mode == "floor") {
    zmq::socket_t s(ctx, zmq::socket_type::req);
    s.set(zmq::sockopt::linger, 0);
    s.connect(argv[2]);
    for (long i = 0; i < count; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      s.send(zmq::buffer("ping", 4));
      zmq::message_t m;
      if (!s.recv(m)) return 1;
      std::printf("%.1f\n", std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    return 0;
  }
  const long window = argc > 4 ? std::stol(argv[4]) : 64;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(argv[2]);
  const std::string request =
      R"({"action": "HEARTBEAT", "req_id": "load-1", "timestamp": 1767115660.775975, "payload": {}})";
  long sent = 0, received = 0;
  auto send_one = [&] {
    s.send(zmq::message_t(), zmq::send_flags::sndmore);  // REQ's empty delimiter
    s.send(zmq::buffer(request), zmq::send_flags::none);
    ++sent;
  };
  while (sent < window && sent < count) send_one();
  while (received < count) {
    zmq::message_t delimiter, reply;
    if (!s.recv(delimiter) || !s.recv(reply)) return 1;
    if (reply.to_string_view().find("\"SUCCESS\"") == std::string::npos) return 3;
    ++received;
    if (sent < count) send_one();
  }
  return 0;
}
