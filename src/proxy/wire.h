// The head of a message held in memory (start line, fields, blank line) rendered into one
// buffer, so the proxy sends each small message as the head and the body in one write (one
// sendmsg of two iovecs), where Beast's serializer hands the kernel a buffer per field and
// costs more in the walk over them than the send itself. The same bytes as Beast's
// serializer writes. A head that holds CR, LF or NUL where a value goes (which Beast's
// parser refuses, but its setters do not) is not rendered: nothing the proxy sends can
// carry a header line it did not mean.
#pragma once

#include <boost/beast/http.hpp>
#include <string>

namespace lockstep::proxy {

// Replaces `out` with the head of `message`, reusing its capacity; false (and `out`
// cleared) when a value holds CR, LF or NUL, or the message is chunked (whose body this
// form cannot carry).
bool RenderHead(const boost::beast::http::request<boost::beast::http::string_body>& message,
                std::string& out);
bool RenderHead(const boost::beast::http::response<boost::beast::http::string_body>& message,
                std::string& out);

}  // namespace lockstep::proxy
