// HTTP/1.1 with Boost.Beast for the proof server (docs/server.md).
#include "server.hpp"

#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "beast.hpp"

#include <boost/asio/ssl.hpp>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <tbb/task_arena.h>
#include <tbb/task_scheduler_observer.h>

namespace rotortree::serve {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Clock::time_point kNever = Clock::time_point::max();
/// A socket bound to one io_context's executor: no type-erased executor, no
/// strand (each io_context is run by one thread).
using Socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, asio::io_context::executor_type>;

/// Writes hash in their own arena, whose threads run at nice 10: on a machine
/// whose cores the I/O threads share with a writer's parallel hashing, reads
/// keep their latency and writes take the time left. (An idle machine gives
/// writes all of it: nice only orders threads that compete.)
class LowerPriority : public tbb::task_scheduler_observer {
 public:
  explicit LowerPriority(tbb::task_arena& arena) : tbb::task_scheduler_observer(arena) { observe(true); }
  ~LowerPriority() override { observe(false); }
  void on_scheduler_entry(bool) override {
    thread_local bool lowered = false;
    if (lowered) return;
    lowered = true;
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);  // failure: normal priority
  }
};

}  // namespace

struct Server::Impl {
  Service& service;
  std::atomic<bool> stopping{false};
  // Declared before the io_contexts: destroying them destroys pending
  // handlers, whose connections unregister themselves here.
  std::mutex mutex;
  std::condition_variable drained;
  std::list<std::weak_ptr<struct ConnectionBase>> connections;  ///< guarded by mutex
  std::size_t active = 0;                                   ///< guarded by mutex
  /// One io_context per I/O thread, each run by that thread alone: a
  /// connection lives on one of them (round robin), so its handlers never
  /// contend with another thread's.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::size_t next_context = 0;  ///< the acceptor's thread only
  tcp::acceptor acceptor;
  asio::thread_pool blocking;  ///< writes wait for durability here, not on an I/O thread
  tbb::task_arena write_arena;  ///< where writes (on `blocking`) hash
  LowerPriority write_priority{write_arena};
  std::optional<asio::ssl::context> tls;  ///< set: every connection speaks TLS

  Impl(Service& s, const std::string& host, unsigned short port, unsigned threads)
      : service(s), contexts(make_contexts(threads)), acceptor(*contexts.front()), blocking(4) {
    const tcp::endpoint endpoint(asio::ip::make_address(host), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
  }
  static std::vector<std::unique_ptr<asio::io_context>> make_contexts(unsigned threads) {
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (unsigned i = 0; i < threads; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
    return contexts;
  }
  void accept();
  void begin_stop();
};

// What the server's bookkeeping needs of a connection of either kind.
struct ConnectionBase {
  explicit ConnectionBase(Server::Impl& s) : server(s) {}
  virtual ~ConnectionBase();
  /// On the connection's thread: close it if it waits for a next request.
  virtual void stop_if_idle() = 0;
  /// From any thread: start serving it, or stop it if idle, on its own thread.
  virtual void post_start() = 0;
  virtual void post_stop() = 0;
  Server::Impl& server;
  std::list<std::weak_ptr<ConnectionBase>>::iterator self_entry;
};

/// One HTTP/1.1 connection over `Stream`: a Socket, or asio::ssl::stream<Socket>
/// with TLS. Beast parses requests (with the header and body limits); the
/// answer is written as its head and body buffers.
template <class Stream>
struct Connection : ConnectionBase, std::enable_shared_from_this<Connection<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, Socket>;
  Stream stream;
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::string_body>> parser;
  Reply reply;       ///< the answer being written
  std::string head;  ///< its status line and headers (capacity kept across requests)
  std::optional<Timer> poll_timer;
  // Timeouts: a deadline per phase (idle, request, response), checked by one
  // timer that is re-armed only when it fires early or a deadline moves
  // earlier, so that a request costs no timer operation in the common case.
  Timer timer;
  Clock::time_point deadline = kNever;
  Clock::time_point armed = kNever;  ///< when `timer` fires (kNever: not waiting)
  Clock::time_point started;
  Route route = Route::unknown;
  bool idle = false;    ///< waiting for the next request (closed at once by a stop)
  bool closed = false;

  template <class... Args>
  Connection(Server::Impl& s, Socket socket, Args&... tls)
      : ConnectionBase(s), stream(std::move(socket), tls...), timer(stream.get_executor()) {}
  using std::enable_shared_from_this<Connection<Stream>>::shared_from_this;
  Socket& socket() {
    if constexpr (kTls) {
      return stream.next_layer();
    } else {
      return stream;
    }
  }

  void post_start() override {
    asio::post(stream.get_executor(), [self = shared_from_this()] { self->start(); });
  }
  void post_stop() override {
    asio::post(stream.get_executor(), [self = shared_from_this()] { self->stop_if_idle(); });
  }
  void stop_if_idle() override {
    if (idle) close();  // in-flight requests finish and then close
  }

  void expire_in(Clock::duration timeout) { expire_at(Clock::now() + timeout); }
  void expire_at(Clock::time_point when) {
    deadline = when;
    if (when >= armed || closed) return;
    armed = when;
    timer.expires_at(when);  // a wait already pending ends with operation_aborted
    wait_for_deadline();
  }
  void wait_for_deadline() {
    timer.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed) return;
      if (Clock::now() >= self->deadline) return self->close();  // its pending operations end
      self->armed = self->deadline;
      if (self->armed == kNever) return;
      self->timer.expires_at(self->armed);
      self->wait_for_deadline();
    });
  }

  void start() {
    beast::error_code ignored;
    socket().set_option(tcp::no_delay(true), ignored);
    if constexpr (kTls) {
      expire_in(server.service.limits().request_timeout);
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
    if (server.stopping || closed) return close();
    if (buffer.size() > 0) return read_request();
    idle = true;
    expire_in(server.service.limits().idle_timeout);
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
    expire_in(server.service.limits().request_timeout);
    http::async_read_header(stream, buffer, *parser, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_read(ec);
      self->on_header();
    });
  }

  // A write is refused before its body is read (an unauthenticated client
  // cannot make the server buffer a body); `Expect: 100-continue` (curl, for
  // large bodies) is answered so that the client sends the body at once.
  void on_header() {
    if (parser->is_done()) return on_read({});  // no body: most reads
    const auto& req = parser->get();
    const Parsed parsed = server.service.parse(view(req));
    if (!parsed.refusal && (parsed.route == Route::leaves_post || parsed.route == Route::rewind)) {
      started = Clock::now();
      const auto auth = req[http::field::authorization];
      if (auto refusal = server.service.refuse_write(std::string_view(auth.data(), auth.size())))
        return reply_and_close(parsed.route, std::move(*refusal));
      if (beast::iequals(req[http::field::expect], "100-continue")) {
        head = "HTTP/1.1 100 Continue\r\n\r\n";
        return asio::async_write(stream, asio::buffer(head), [self = shared_from_this()](beast::error_code ec, std::size_t) {
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
    if (closed || ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted || ec == http::error::partial_message)
      return close();
    if (ec) return reply_and_close(Route::unknown, error_reply(400, "malformed HTTP request"));
    const auto& req = parser->get();
    const Request request = view(req);
    const Parsed parsed = server.service.parse(request);
    route = parsed.route;
    if (parsed.refusal) return send(parsed.route, *parsed.refusal);
    if (route == Route::leaves_post || route == Route::rewind) {
      // Blocks until durable: on the blocking pool, answered back on this
      // connection. Its time is the database's, not the client's.
      expire_at(kNever);
      asio::post(server.blocking, [self = shared_from_this(), parsed] {
        Reply reply;
        self->server.write_arena.execute(
            [&] { reply = self->server.service.handle(self->view(self->parser->get()), parsed); });
        asio::post(self->stream.get_executor(),
                   [self, reply = std::move(reply)]() mutable { self->send(self->route, std::move(reply)); });
      });
      return;
    }
    if (route == Route::root_wait) {
      expire_at(kNever);  // bounded by the poll's own deadline
      return poll(parsed, Clock::now() + parsed.wait);
    }
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
    if (server.service.served_size() > parsed.after || Clock::now() >= deadline || server.stopping || closed)
      return send(route, server.service.handle(view(parser->get()), parsed));
    if (!poll_timer) poll_timer.emplace(stream.get_executor());
    poll_timer->expires_after(std::chrono::milliseconds(2));
    poll_timer->async_wait([self = shared_from_this(), parsed, deadline](beast::error_code ec) {
      if (ec) return self->close();
      self->poll(parsed, deadline);
    });
  }

  void send(Route r, Reply answer, bool close_after = false) {
    server.service.metrics().record(r, answer.status, Clock::now() - started);
    if (closed) return;
    const bool keep_alive = !close_after && parser && parser->is_done() && parser->get().keep_alive() &&
                            !server.stopping;
    reply = std::move(answer);
    head.clear();
    head += "HTTP/1.1 ";
    head += std::to_string(reply.status);
    head += ' ';
    const auto reason = http::obsolete_reason(http::int_to_status(reply.status));
    head.append(reason.data(), reason.size());
    head += "\r\nServer: rotortree\r\nContent-Type: ";
    head += reply.content_type;
    head += "\r\nContent-Length: ";
    head += std::to_string(reply.body.size());
    if (!keep_alive) head += "\r\nConnection: close";
    head += "\r\n\r\n";
    expire_in(server.service.limits().request_timeout);
    const std::array<asio::const_buffer, 2> message{asio::buffer(head), asio::buffer(reply.body)};
    asio::async_write(stream, message, [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
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
    socket().shutdown(tcp::socket::shutdown_send, ignored);
    expire_in(std::chrono::seconds(2));
    drain();
  }
  void drain() {
    buffer.consume(buffer.size());
    stream.async_read_some(buffer.prepare(65536), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->drain();
    });
  }
  void reply_and_close(Route r, Reply answer) { send(r, std::move(answer), true); }

  // Ends the connection: its pending operations complete with an error and
  // release it.
  void close() {
    if (closed) return;
    closed = true;
    idle = false;
    timer.cancel();
    if (poll_timer) poll_timer->cancel();
    beast::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
    socket().close(ignored);
  }
};

ConnectionBase::~ConnectionBase() {
  server.service.metrics().connections_open.fetch_sub(1);
  std::lock_guard lock(server.mutex);
  server.connections.erase(self_entry);
  if (--server.active == 0) server.drained.notify_all();
}

void Server::Impl::accept() {
  asio::io_context& context = *contexts[next_context];
  next_context = (next_context + 1) % contexts.size();
  acceptor.async_accept(context, [this](beast::error_code ec, Socket socket) {
    if (ec == asio::error::operation_aborted || stopping) return;
    if (!ec) {
      std::shared_ptr<ConnectionBase> connection;
      {
        std::lock_guard lock(mutex);
        if (active < service.limits().max_connections) {
          if (tls) {
            connection = std::make_shared<Connection<asio::ssl::stream<Socket>>>(*this, std::move(socket), *tls);
          } else {
            connection = std::make_shared<Connection<Socket>>(*this, std::move(socket));
          }
          ++active;
          service.metrics().connections_open.fetch_add(1);
          connection->self_entry = connections.insert(connections.end(), connection);
        }
      }
      if (connection) {
        connection->post_start();
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
  asio::post(*contexts.front(), [this] {
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
  asio::signal_set signals(*s.contexts.front());
  if (handle_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    signals.async_wait([&s](beast::error_code ec, int) {
      if (!ec) s.begin_stop();
    });
  }
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& context : s.contexts) guards.push_back(asio::make_work_guard(*context));
  s.accept();
  std::vector<std::thread> workers;
  for (std::size_t i = 1; i < s.contexts.size(); ++i) workers.emplace_back([&s, i] { s.contexts[i]->run(); });
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
    guards.clear();
    for (auto& context : s.contexts) context->stop();
  });
  s.contexts.front()->run();
  for (auto& t : workers) t.join();
  waiter.join();
  s.blocking.join();
}

}  // namespace rotortree::serve
