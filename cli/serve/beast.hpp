// Boost.Beast/Asio for the server, its replica and the network light client.
// Boost 1.74's Asio uses std::exchange without including <utility> (breaks
// with GCC 12 in C++20): include it first, here, once.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

namespace rotortree::serve {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
}  // namespace rotortree::serve
