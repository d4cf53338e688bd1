// The HTTP/1.1 front of the proof server (Boost.Beast): keep-alive
// connections on `threads` I/O threads, writes on a blocking pool, long polls
// on timers, limits from Service::limits(), graceful stop.
#pragma once

#include <memory>
#include <string>

#include "service.hpp"

namespace rotortree::serve {

class Server {
 public:
  /// Binds `host:port` at once (port 0: any free port; see port()). With a
  /// certificate chain and key (PEM files), every connection speaks TLS.
  Server(Service& service, const std::string& host, unsigned short port, unsigned threads,
         const std::string& tls_cert = {}, const std::string& tls_key = {});
  ~Server();
  unsigned short port() const;
  /// Serve until stop() (or SIGTERM/SIGINT if `handle_signals`); returns when
  /// in-flight requests are answered (or the request timeout has passed).
  void run(bool handle_signals);
  void stop();

  struct Impl;  ///< server.cpp only (public so that its connections can name it)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rotortree::serve
