#include "proxy/wire.h"

namespace lockstep::proxy {

namespace http = boost::beast::http;

namespace {

bool Clean(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void AppendVersion(unsigned version, std::string& out) {
  out += "HTTP/";
  out += static_cast<char>('0' + version / 10);
  out += '.';
  out += static_cast<char>('0' + version % 10);
}

bool AppendFields(const http::fields& fields, std::string& out) {
  for (const auto& field : fields) {
    if (!Clean(field.name_string()) || !Clean(field.value())) return false;
    out.append(field.name_string());
    out += ": ";
    out.append(field.value());
    out += "\r\n";
  }
  out += "\r\n";
  return true;
}

}  // namespace

bool RenderHead(const http::request<http::string_body>& message, std::string& out) {
  out.clear();
  bool ok = !message.chunked() && Clean(message.method_string()) && Clean(message.target()) &&
            message.target().find(' ') == std::string_view::npos;
  if (ok) {
    out.append(message.method_string());
    out += ' ';
    out.append(message.target());
    out += ' ';
    AppendVersion(message.version(), out);
    out += "\r\n";
    ok = AppendFields(message.base(), out);
  }
  if (!ok) out.clear();
  return ok;
}

bool RenderHead(const http::response<http::string_body>& message, std::string& out) {
  out.clear();
  bool ok = !message.chunked() && Clean(message.reason());
  if (ok) {
    AppendVersion(message.version(), out);
    out += ' ';
    unsigned status = message.result_int();
    out += static_cast<char>('0' + status / 100 % 10);
    out += static_cast<char>('0' + status / 10 % 10);
    out += static_cast<char>('0' + status % 10);
    out += ' ';
    out.append(message.reason());
    out += "\r\n";
    ok = AppendFields(message.base(), out);
  }
  if (!ok) out.clear();
  return ok;
}

}  // namespace lockstep::proxy
