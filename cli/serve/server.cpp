// HTTP/1.1 with Boost.Beast for the proof server (docs/server.md).
#include "server.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "beast.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

namespace rotortree::serve {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

struct Server::Impl {
  Service& service;
  unsigned threads;
  std::atomic<bool> stopping{false};
  // Declared before the io_context: destroying it destroys pending handlers,
  // whose connections unregister themselves here.
  std::mutex mutex;
  std::condition_variable drained;
  std::list<std::weak_ptr<struct ConnectionBase>> connections;  ///< guarded by mutex
  std::size_t active = 0;                                   ///< guarded by mutex
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::thread_pool blocking;  ///< writes wait for durability here, not on an I/O thread
  std::optional<asio::ssl::context> tls;  ///< set: every connection speaks TLS

  Impl(Service& s, const std::string& host, unsigned short port, unsigned t)
      : service(s), threads(t), io(static_cast<int>(t)), acceptor(io), blocking(4) {
    const tcp::endpoint endpoint(asio::ip::make_address(host), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
  }
  void accept();
  void begin_stop();
};

// What the server's bookkeeping needs of a connection of either kind.
struct ConnectionBase {
  explicit ConnectionBase(Server::Impl& s) : server(s) {}
  virtual ~ConnectionBase();
  /// On the connection's strand: close it if it waits for a next request.
  virtual void stop_if_idle() = 0;
  virtual void post_stop() = 0;
  Server::Impl& server;
  std::list<std::weak_ptr<ConnectionBase>>::iterator self_entry;
};

/// One HTTP/1.1 connection over `Stream`: beast::tcp_stream, or
/// beast::ssl_stream<beast::tcp_stream> with TLS.
template <class Stream>
struct Connection : ConnectionBase, std::enable_shared_from_this<Connection<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  Stream stream;
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::string_body>> parser;
  http::response<http::string_body> response;
  std::optional<asio::steady_timer> poll_timer;
  std::optional<http::response<http::empty_body>> continue_response;
  Clock::time_point started;
  Route route = Route::unknown;
  bool idle = false;  ///< waiting for the next request (closed at once by a stop)

  template <class... Args>
  Connection(Server::Impl& s, tcp::socket socket, Args&... tls)
      : ConnectionBase(s), stream(std::move(socket), tls...) {}
  using std::enable_shared_from_this<Connection<Stream>>::shared_from_this;
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream); }

  void post_stop() override {
    asio::post(tcp().get_executor(), [self = shared_from_this()] { self->stop_if_idle(); });
  }
  void stop_if_idle() override {
    if (idle) tcp().cancel();  // in-flight requests finish and then close
  }

  void start() {
    beast::error_code ignored;
    tcp().socket().set_option(tcp::no_delay(true), ignored);
    if constexpr (kTls) {
      tcp().expires_after(server.service.limits().request_timeout);
      stream.async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
        if (ec) return self->close();
        self->wait_for_request();
      });
    } else {
      wait_for_request();
    }
  }

  // Between requests: the idle timeout. A request that has begun: the request timeout.
  void wait_for_request() {
    if (server.stopping) return close();
    idle = true;
    if (buffer.size() > 0) return read_request();
    tcp().expires_after(server.service.limits().idle_timeout);
    stream.async_read_some(buffer.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->idle = false;
      if (ec) return self->close();
      self->buffer.commit(n);
      self->read_request();
    });
  }

  void read_request() {
    idle = false;
    parser.emplace();
    parser->header_limit(server.service.limits().max_header_bytes);
    parser->body_limit(server.service.limits().max_body_bytes);
    tcp().expires_after(server.service.limits().request_timeout);
    http::async_read_header(stream, buffer, *parser, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_read(ec);
      self->on_header();
    });
  }

  // A write is refused before its body is read (an unauthenticated client
  // cannot make the server buffer a body); `Expect: 100-continue` (curl, for
  // large bodies) is answered so that the client sends the body at once.
  void on_header() {
    const auto& req = parser->get();
    const Parsed parsed = server.service.parse(view(req));
    if (!parsed.refusal && (parsed.route == Route::leaves_post || parsed.route == Route::rewind)) {
      started = Clock::now();
      const auto auth = req[http::field::authorization];
      if (auto refusal = server.service.refuse_write(std::string_view(auth.data(), auth.size())))
        return reply_and_close(parsed.route, std::move(*refusal));
      if (beast::iequals(req[http::field::expect], "100-continue")) {
        continue_response.emplace(http::status::continue_, 11);
        return http::async_write(stream, *continue_response, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) return self->close();
          self->read_body();
        });
      }
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream, buffer, *parser, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    started = Clock::now();
    if (ec == http::error::body_limit) return reply_and_close(Route::unknown, error_reply(413, "body too large"));
    if (ec == http::error::header_limit)
      return reply_and_close(Route::unknown, error_reply(431, "request headers too large"));
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted || ec == http::error::partial_message)
      return close();
    if (ec) return reply_and_close(Route::unknown, error_reply(400, "malformed HTTP request"));
    const auto& req = parser->get();
    const Request request = view(req);
    const Parsed parsed = server.service.parse(request);
    route = parsed.route;
    if (parsed.refusal) return send(parsed.route, *parsed.refusal);
    if (route == Route::leaves_post || route == Route::rewind) {
      // Blocks until durable: on the blocking pool, answered back on this connection.
      asio::post(server.blocking, [self = shared_from_this(), parsed] {
        Reply reply = self->server.service.handle(self->view(self->parser->get()), parsed);
        asio::post(self->tcp().get_executor(),
                   [self, reply = std::move(reply)]() mutable { self->send(self->route, std::move(reply)); });
      });
      return;
    }
    if (route == Route::root_wait) return poll(parsed, Clock::now() + parsed.wait);
    send(route, server.service.handle(request, parsed));
  }

  Request view(const http::request<http::string_body>& req) const {
    Request r;
    r.method = std::string_view(req.method_string().data(), req.method_string().size());
    r.target = std::string_view(req.target().data(), req.target().size());
    auto header = [&](http::field f) {
      auto v = req[f];
      return std::string_view(v.data(), v.size());
    };
    r.authorization = header(http::field::authorization);
    r.accept = header(http::field::accept);
    r.content_type = header(http::field::content_type);
    r.body = req.body();
    return r;
  }

  // Long poll: check every few ms until the served size passes `after`.
  void poll(Parsed parsed, Clock::time_point deadline) {
    if (server.service.served_size() > parsed.after || Clock::now() >= deadline || server.stopping)
      return send(route, server.service.handle(view(parser->get()), parsed));
    if (!poll_timer) poll_timer.emplace(tcp().get_executor());
    poll_timer->expires_after(std::chrono::milliseconds(2));
    poll_timer->async_wait([self = shared_from_this(), parsed, deadline](beast::error_code ec) {
      if (ec) return self->close();
      self->poll(parsed, deadline);
    });
  }

  void send(Route r, Reply reply, bool close_after = false) {
    server.service.metrics().record(r, reply.status, Clock::now() - started);
    const bool keep_alive = !close_after && parser && parser->is_done() && parser->get().keep_alive() &&
                            !server.stopping;
    response = {};
    response.version(11);
    response.result(reply.status);
    response.set(http::field::server, "rotortree");
    response.set(http::field::content_type, reply.content_type);
    response.body() = std::move(reply.body);
    response.keep_alive(keep_alive);
    response.prepare_payload();
    tcp().expires_after(server.service.limits().request_timeout);
    http::async_write(stream, response, [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      if (!keep_alive) return self->linger_close();
      self->wait_for_request();
    });
  }

  // Closing with unread input makes the kernel send a reset, which can destroy
  // the answer before the client reads it (a write refused before its body):
  // stop sending, read and discard for a moment, then close.
  void linger_close() {
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp().expires_after(std::chrono::seconds(2));
    drain();
  }
  void drain() {
    buffer.consume(buffer.size());
    stream.async_read_some(buffer.prepare(65536), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->drain();
    });
  }
  void reply_and_close(Route r, Reply reply) { send(r, std::move(reply), true); }

  void close() {
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp().socket().close(ignored);
  }

};

ConnectionBase::~ConnectionBase() {
  server.service.metrics().connections_open.fetch_sub(1);
  std::lock_guard lock(server.mutex);
  server.connections.erase(self_entry);
  if (--server.active == 0) server.drained.notify_all();
}

void Server::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping) return;
    if (!ec) {
      std::shared_ptr<ConnectionBase> connection;
      std::function<void()> start;
      {
        std::lock_guard lock(mutex);
        if (active < service.limits().max_connections) {
          if (tls) {
            auto c = std::make_shared<Connection<beast::ssl_stream<beast::tcp_stream>>>(*this, std::move(socket), *tls);
            start = [c] { c->start(); };
            connection = c;
          } else {
            auto c = std::make_shared<Connection<beast::tcp_stream>>(*this, std::move(socket));
            start = [c] { c->start(); };
            connection = c;
          }
          ++active;
          service.metrics().connections_open.fetch_add(1);
          connection->self_entry = connections.insert(connections.end(), connection);
        }
      }
      if (connection) {
        start();
      } else {
        service.metrics().connections_refused.fetch_add(1);
        beast::error_code ignored;
        socket.close(ignored);
      }
    }
    accept();
  });
}

void Server::Impl::begin_stop() {
  if (stopping.exchange(true)) return;
  asio::post(io, [this] {
    beast::error_code ignored;
    acceptor.close(ignored);
    std::lock_guard lock(mutex);
    for (auto& weak : connections)
      if (auto c = weak.lock()) c->post_stop();
  });
}

Server::Server(Service& service, const std::string& host, unsigned short port, unsigned threads,
               const std::string& tls_cert, const std::string& tls_key)
    : impl_(std::make_unique<Impl>(service, host, port, threads ? threads : 1)) {
  if (tls_cert.empty() != tls_key.empty()) throw Error(Errc::invalid_argument, "--tls-cert and --tls-key go together");
  if (tls_cert.empty()) return;
  auto& tls = impl_->tls.emplace(asio::ssl::context::tls_server);
  tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                  asio::ssl::context::single_dh_use);
  try {
    tls.use_certificate_chain_file(tls_cert);
    tls.use_private_key_file(tls_key, asio::ssl::context::pem);
  } catch (const boost::system::system_error& e) {
    throw Error(Errc::invalid_argument, "cannot load the TLS certificate or key: " + std::string(e.what()));
  }
}
Server::~Server() = default;
unsigned short Server::port() const { return impl_->acceptor.local_endpoint().port(); }
void Server::stop() { impl_->begin_stop(); }

void Server::run(bool handle_signals) {
  Impl& s = *impl_;
  asio::signal_set signals(s.io);
  if (handle_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    signals.async_wait([&s](beast::error_code ec, int) {
      if (!ec) s.begin_stop();
    });
  }
  auto guard = asio::make_work_guard(s.io);
  s.accept();
  std::vector<std::thread> workers;
  for (unsigned i = 1; i < s.threads; ++i) workers.emplace_back([&s] { s.io.run(); });
  std::thread waiter([&] {
    // After a stop: wait for in-flight requests (bounded), then let run() end.
    {
      std::unique_lock lock(s.mutex);
      while (!s.stopping) {
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        lock.lock();
      }
      s.drained.wait_for(lock, s.service.limits().request_timeout + std::chrono::seconds(1),
                         [&] { return s.active == 0; });
    }
    beast::error_code ignored;
    signals.cancel(ignored);
    guard.reset();
    s.io.stop();
  });
  s.io.run();
  for (auto& t : workers) t.join();
  waiter.join();
  s.blocking.join();
}

}  // namespace rotortree::serve
