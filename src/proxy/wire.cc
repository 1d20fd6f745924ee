#include "proxy/wire.h"

namespace lockstep::proxy {

namespace http = boost::beast::http;

namespace {

void AppendVersion(unsigned version, std::string& out) {
  out += "HTTP/";
  out += static_cast<char>('0' + version / 10);
  out += '.';
  out += static_cast<char>('0' + version % 10);
}

void AppendFieldsAndBody(const http::fields& fields, const std::string& body, std::string& out) {
  for (const auto& field : fields) {
    out.append(field.name_string());
    out += ": ";
    out.append(field.value());
    out += "\r\n";
  }
  out += "\r\n";
  out += body;
}

}  // namespace

void RenderMessage(const http::request<http::string_body>& message, std::string& out) {
  out.clear();
  out.append(message.method_string());
  out += ' ';
  out.append(message.target());
  out += ' ';
  AppendVersion(message.version(), out);
  out += "\r\n";
  AppendFieldsAndBody(message.base(), message.body(), out);
}

void RenderMessage(const http::response<http::string_body>& message, std::string& out) {
  out.clear();
  AppendVersion(message.version(), out);
  out += ' ';
  unsigned status = message.result_int();
  out += static_cast<char>('0' + status / 100 % 10);
  out += static_cast<char>('0' + status / 10 % 10);
  out += static_cast<char>('0' + status % 10);
  out += ' ';
  out.append(message.reason());
  out += "\r\n";
  AppendFieldsAndBody(message.base(), message.body(), out);
}

}  // namespace lockstep::proxy
