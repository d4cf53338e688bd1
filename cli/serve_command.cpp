// `rotortree serve DIR`: the proof server and its verifying replica (SPEC §7,
// docs/server.md, docs/deployment.md).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"
#include "rotortree/any_db.hpp"
#include "serve/replica.hpp"
#include "serve/server.hpp"

namespace rotortree::cli {
namespace {

std::string read_token(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::io_error, "cannot read the token file " + display_name(path));
  std::string token;
  std::getline(in, token);
  const auto begin = token.find_first_not_of(" \t\r\n");
  const auto end = token.find_last_not_of(" \t\r\n");
  token = begin == std::string::npos ? std::string{} : token.substr(begin, end - begin + 1);
  if (token.empty()) throw Error(Errc::invalid_argument, "the token file " + display_name(path) + " holds no token");
  return token;
}

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "::1" || host == "localhost"; }

}  // namespace

void register_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve a database over HTTP (roots, proofs, leaves; docs/server.md)");
  struct Options {
    std::string dir, listen = "127.0.0.1:7420", token_file, follow, tls_cert, tls_key;
    std::string threads = "2", max_body = "67108864", max_header = "8192", max_connections = "1024",
                request_timeout = "10000", idle_timeout = "60000", max_read = "1048576",
                checkpoint_bytes = "1073741824";
    bool insecure = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("DIR", o->dir, "Database directory (a replica creates it)")->required();
  cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (default 127.0.0.1:7420; port 0: any free port)");
  cmd->add_option("--token-file", o->token_file, "File holding the bearer token writes need");
  cmd->add_option("--threads", o->threads, "I/O threads (default 2)");
  cmd->add_option("--follow", o->follow, "Run as a verifying read-only replica of the server at http://HOST:PORT");
  cmd->add_option("--max-body-bytes", o->max_body, "Largest request body (default 64 MiB)");
  cmd->add_option("--max-header-bytes", o->max_header, "Largest request header (default 8192)");
  cmd->add_option("--max-connections", o->max_connections, "Open connections at most (default 1024)");
  cmd->add_option("--request-timeout-ms", o->request_timeout, "Time to receive a whole request or send an answer (default 10000)");
  cmd->add_option("--idle-timeout-ms", o->idle_timeout, "Idle keep-alive connections are closed after this (default 60000)");
  cmd->add_option("--max-leaves-per-read", o->max_read, "Largest count of GET /v1/leaves (default 1048576)");
  cmd->add_option("--checkpoint-every-bytes", o->checkpoint_bytes, "Checkpoint after this many logged leaf bytes (default 1 GiB)");
  cmd->add_option("--tls-cert", o->tls_cert, "PEM certificate chain: serve HTTPS (with --tls-key)");
  cmd->add_option("--tls-key", o->tls_key, "PEM private key of --tls-cert");
  cmd->add_flag("--insecure-open-writes", o->insecure, "Allow writes without a token on a non-loopback address");
  cmd->callback([o] {
    const auto colon = o->listen.rfind(':');
    if (colon == std::string::npos) throw Error(Errc::invalid_argument, "--listen must be HOST:PORT");
    std::string host = o->listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const auto port = parse_u64(o->listen.substr(colon + 1), "--listen port");
    if (port > 65535) throw Error(Errc::invalid_argument, "--listen port must be in 0..65535");
    serve::Limits limits;
    limits.max_body_bytes = parse_u64(o->max_body, "--max-body-bytes");
    const auto header = parse_u64(o->max_header, "--max-header-bytes");
    if (header < 256 || header > (1u << 20)) throw Error(Errc::invalid_argument, "--max-header-bytes must be in 256..1048576");
    limits.max_header_bytes = static_cast<std::uint32_t>(header);
    limits.max_connections = parse_u64(o->max_connections, "--max-connections");
    limits.request_timeout = std::chrono::milliseconds(parse_u64(o->request_timeout, "--request-timeout-ms"));
    limits.idle_timeout = std::chrono::milliseconds(parse_u64(o->idle_timeout, "--idle-timeout-ms"));
    limits.max_leaves_per_read = parse_u64(o->max_read, "--max-leaves-per-read");
    if (limits.max_connections == 0 || limits.request_timeout.count() == 0 || limits.idle_timeout.count() == 0 ||
        limits.max_leaves_per_read == 0)
      throw Error(Errc::invalid_argument, "limits must be positive");
    const auto threads = parse_u64(o->threads, "--threads");
    if (threads < 1 || threads > 256) throw Error(Errc::invalid_argument, "--threads must be in 1..256");
    std::string token;
    if (!o->token_file.empty()) token = read_token(o->token_file);
    const bool replica = !o->follow.empty();
    if (!replica && token.empty() && !is_loopback(host) && !o->insecure)
      throw Error(Errc::invalid_argument,
                  "writes without --token-file are only allowed on a loopback address (or --insecure-open-writes)");

    DbConfig config;
    config.flush = flush::Interval{};
    config.checkpoint = checkpoint::MemoryThreshold{parse_u64(o->checkpoint_bytes, "--checkpoint-every-bytes")};
    std::optional<TreeParams> create;
    if (replica) {
      if (!read_db_params(o->dir)) {
        create = serve::primary_params(o->follow);
      }
    } else {
      config.create_if_missing = false;
    }
    serve::Service service(open_any_db(o->dir, config, create), token, limits, replica);
    serve::Server server(service, host, static_cast<unsigned short>(port), static_cast<unsigned>(threads), o->tls_cert,
                         o->tls_key);
    std::optional<serve::Replica> follower;
    if (replica) follower.emplace(service, o->follow);
    std::printf("listening on %s:%u\n", host.c_str(), static_cast<unsigned>(server.port()));
    std::fflush(stdout);
    server.run(/*handle_signals=*/true);
    follower.reset();
    service.close();
    std::fprintf(stderr, "serve: stopped at size %llu\n", static_cast<unsigned long long>(service.db().size()));
  });
}

}  // namespace rotortree::cli
