// The proxy's header rules, as pure functions: what is stripped before a message is
// passed on, what is added, and the proxy's own error answers.
#pragma once

#include <boost/beast/http.hpp>
#include <string>
#include <string_view>

namespace lockstep::proxy {

// Removes the headers that describe one connection, not the message (RFC 9110 §7.6.1).
void StripHopByHop(boost::beast::http::fields& f);

// The X-Forwarded-For value after this hop: the client appended to what came in.
std::string ForwardedFor(std::string_view existing, std::string_view client_ip);

// The proxy's own plain-text answer.
boost::beast::http::response<boost::beast::http::string_body> ErrorResponse(
    boost::beast::http::status status, unsigned version, std::string text);

}  // namespace lockstep::proxy
