// A whole message held in memory, written out as one contiguous buffer: the start line,
// the fields, the blank line and the body. The proxy sends each small message with a
// single one-buffer write, where Beast's serializer hands the kernel a buffer per field
// (and costs more in the walk over them than the send itself). Same bytes as Beast's
// serializer; the fields are written as they are (Beast's parser and setters already
// refuse CR and LF in them).
#pragma once

#include <boost/beast/http.hpp>
#include <string>

namespace lockstep::proxy {

// Replaces `out` with the wire form of `message`, reusing its capacity.
void RenderMessage(const boost::beast::http::request<boost::beast::http::string_body>& message,
                   std::string& out);
void RenderMessage(const boost::beast::http::response<boost::beast::http::string_body>& message,
                   std::string& out);

}  // namespace lockstep::proxy
