// A small synchronous HTTP/1.1 client over one keep-alive connection
// (reconnected after an error): the replica's puller and the network light
// client. Header-only so that examples/ can use it without the CLI.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "beast.hpp"

namespace rotortree::serve {

struct HttpReply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

/// "http://HOST:PORT" (or "HOST:PORT"); throws std::invalid_argument.
inline std::pair<std::string, std::string> split_url(std::string url) {
  if (url.rfind("http://", 0) == 0) url.erase(0, 7);
  while (!url.empty() && url.back() == '/') url.pop_back();
  const auto colon = url.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == url.size() || url.find('/') != std::string::npos)
    throw std::invalid_argument("expected http://HOST:PORT, got '" + url + "'");
  return {url.substr(0, colon), url.substr(colon + 1)};
}

class HttpClient {
 public:
  explicit HttpClient(const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(30))
      : timeout_(timeout) {
    std::tie(host_, port_) = split_url(url);
  }

  /// Throws beast::system_error on a network failure (the connection is then
  /// dropped and the next request reconnects).
  HttpReply request(http::verb method, const std::string& target, std::string body = {},
                    const std::string& content_type = {}, const std::string& token = {},
                    const std::string& accept = {}) {
    try {
      return attempt(method, target, body, content_type, token, accept);
    } catch (...) {
      stream_.reset();
      throw;
    }
  }
  HttpReply get(const std::string& target, const std::string& accept = {}) {
    return request(http::verb::get, target, {}, {}, {}, accept);
  }

 private:
  HttpReply attempt(http::verb method, const std::string& target, const std::string& body,
                    const std::string& content_type, const std::string& token, const std::string& accept) {
    if (!stream_) {
      stream_.emplace(io_);
      tcp::resolver resolver(io_);
      stream_->expires_after(timeout_);
      stream_->connect(resolver.resolve(host_, port_));
      stream_->socket().set_option(tcp::no_delay(true));
    }
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, host_);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!accept.empty()) req.set(http::field::accept, accept);
    req.body() = body;
    req.prepare_payload();
    stream_->expires_after(timeout_);
    http::write(*stream_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::uint64_t{1} << 32);
    http::read(*stream_, buffer_, parser);
    auto& res = parser.get();
    HttpReply out{static_cast<unsigned>(res.result_int()), std::string(res[http::field::content_type]),
                  std::move(res.body())};
    if (!res.keep_alive()) stream_.reset();
    return out;
  }

  asio::io_context io_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::string host_, port_;
  std::chrono::milliseconds timeout_;
};

}  // namespace rotortree::serve
