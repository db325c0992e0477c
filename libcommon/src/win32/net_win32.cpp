// TCP readiness checks on Windows: a non-blocking connect (WSAEventSelect) raced against the
// cancel event.
#include <winsock2.h>  // before <windows.h> (in win32_util.hpp)
#include <ws2tcpip.h>

#include <chrono>

#include "qc/net.hpp"
#include "win32_util.hpp"

namespace qc {
namespace {

bool winsock_ready() {
  static const bool ready = [] {
    WSADATA data;
    return WSAStartup(MAKEWORD(2, 2), &data) == 0;
  }();
  return ready;
}

}  // namespace

bool wait_cancelled(NativeHandle cancel, int timeout_ms) {
  return WaitForSingleObject(win32::to_handle(cancel), static_cast<DWORD>(timeout_ms)) == WAIT_OBJECT_0;
}

ProbeOutcome tcp_connect_probe(const std::string& host, const std::string& port, int timeout_ms,
                               NativeHandle cancel, std::string& why) {
  if (!winsock_ready()) {
    why = "cannot start Winsock";
    return ProbeOutcome::kFailed;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) {
    why = "cannot resolve " + host + ": " + win32::message(static_cast<DWORD>(WSAGetLastError()));
    return ProbeOutcome::kFailed;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  ProbeOutcome outcome = ProbeOutcome::kFailed;
  for (addrinfo* a = found; a != nullptr && outcome == ProbeOutcome::kFailed; a = a->ai_next) {
    SOCKET s = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (s == INVALID_SOCKET) continue;
    WSAEVENT event = WSACreateEvent();
    WSAEventSelect(s, event, FD_CONNECT);  // also makes the socket non-blocking
    if (connect(s, a->ai_addr, static_cast<int>(a->ai_addrlen)) == 0) {
      outcome = ProbeOutcome::kSucceeded;
    } else if (WSAGetLastError() == WSAEWOULDBLOCK) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      HANDLE handles[2] = {event, win32::to_handle(cancel)};
      const DWORD count = cancel == kInvalidHandle ? 1 : 2;
      const DWORD r = WaitForMultipleObjects(count, handles, FALSE, static_cast<DWORD>(left > 0 ? left : 0));
      if (r == WAIT_OBJECT_0 + 1) {
        outcome = ProbeOutcome::kCancelled;
      } else if (r == WAIT_OBJECT_0) {
        WSANETWORKEVENTS happened{};
        WSAEnumNetworkEvents(s, event, &happened);
        const int error = happened.iErrorCode[FD_CONNECT_BIT];
        if (error == 0) {
          outcome = ProbeOutcome::kSucceeded;
        } else {
          why = win32::message(static_cast<DWORD>(error));
        }
      } else {
        why = "no answer within " + std::to_string(timeout_ms) + " ms";
      }
    } else {
      why = win32::message(static_cast<DWORD>(WSAGetLastError()));
    }
    WSACloseEvent(event);
    closesocket(s);
  }
  freeaddrinfo(found);
  return outcome;
}

struct TcpConnect::Impl {
  addrinfo* found = nullptr;
  addrinfo* next = nullptr;
  SOCKET s = INVALID_SOCKET;
  bool done = false;
  bool succeeded = false;
  std::string why;

  void close_socket() {
    if (s != INVALID_SOCKET) closesocket(s);
    s = INVALID_SOCKET;
  }

  void advance() {
    while (next != nullptr) {
      addrinfo* a = next;
      next = a->ai_next;
      s = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
      if (s == INVALID_SOCKET) {
        why = win32::message(static_cast<DWORD>(WSAGetLastError()));
        continue;
      }
      u_long nonblocking = 1;
      ioctlsocket(s, FIONBIO, &nonblocking);
      if (::connect(s, a->ai_addr, static_cast<int>(a->ai_addrlen)) == 0) {
        succeeded = done = true;
        return;
      }
      if (WSAGetLastError() == WSAEWOULDBLOCK) return;
      why = win32::message(static_cast<DWORD>(WSAGetLastError()));
      close_socket();
    }
    done = true;
  }
};

TcpConnect::TcpConnect(const std::string& host, const std::string& port) : impl_(std::make_unique<Impl>()) {
  if (!winsock_ready()) {
    impl_->why = "cannot start Winsock";
    impl_->done = true;
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &impl_->found) != 0) {
    impl_->why = "cannot resolve " + host + ": " + win32::message(static_cast<DWORD>(WSAGetLastError()));
    impl_->found = nullptr;
    impl_->done = true;
    return;
  }
  impl_->next = impl_->found;
  impl_->advance();
}

TcpConnect::~TcpConnect() {
  impl_->close_socket();
  if (impl_->found != nullptr) freeaddrinfo(impl_->found);
}

std::intptr_t TcpConnect::socket() const { return static_cast<std::intptr_t>(impl_->s); }
bool TcpConnect::done() const { return impl_->done; }
bool TcpConnect::succeeded() const { return impl_->succeeded; }
const std::string& TcpConnect::why() const { return impl_->why; }

// Windows reports a failed connect as an exception on the socket (select's exceptfds),
// a finished one as writable.
void TcpConnect::on_ready() {
  if (impl_->done || impl_->s == INVALID_SOCKET) return;
  int error = 0;
  int len = sizeof error;
  getsockopt(impl_->s, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&error), &len);
  if (error == 0) {
    fd_set writable;
    FD_ZERO(&writable);
    FD_SET(impl_->s, &writable);
    timeval zero{0, 0};
    if (select(0, nullptr, &writable, nullptr, &zero) != 1) return;  // not yet
    impl_->succeeded = impl_->done = true;
    return;
  }
  impl_->why = win32::message(static_cast<DWORD>(error));
  impl_->close_socket();
  impl_->advance();
}

}  // namespace qc
