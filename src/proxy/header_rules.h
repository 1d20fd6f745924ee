// The proxy's header rules, as pure functions: what is stripped before a message is
// passed on, what is added, and the proxy's own error answers.
#pragma once

#include <boost/beast/http.hpp>
#include <string>
#include <string_view>

namespace lockstep::proxy {

// Removes the headers that describe one connection, not the message (RFC 9110 §7.6.1):
// the fixed list, and every header the Connection header names.
void StripHopByHop(boost::beast::http::fields& f);

// Replaces whatever the client said about where the request came from (Forwarded,
// X-Forwarded-For/-Host/-Proto, X-Real-IP) with what this hop knows: the client's address,
// the Host it asked for and plain HTTP. A client can set these headers to anything, so a
// backend that trusted them could be told any address; the proxy is the first hop lockstep
// knows of, so nothing before it is kept.
void SetForwardingHeaders(boost::beast::http::fields& f, std::string_view client_ip);

// Methods a request of which may be sent twice with the same effect (RFC 9110 §9.2.2):
// only those are retried on a fresh upstream connection.
bool IsIdempotent(boost::beast::http::verb method);

// The proxy's own plain-text answer.
boost::beast::http::response<boost::beast::http::string_body> ErrorResponse(
    boost::beast::http::status status, unsigned version, std::string text);

}  // namespace lockstep::proxy
