#include "deploy/rewrite.h"

#include <toml++/toml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

namespace lockstep::deploy {

namespace {

using Path = std::vector<std::string>;

// Where each line of a text starts, and (line, column) of toml++ (both 1-based, columns
// in code points) as byte offsets.
class Lines {
 public:
  explicit Lines(std::string_view text) : text_(text) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') starts_.push_back(i + 1);
    }
  }
  size_t Offset(const toml::source_position& p) const {
    size_t at = LineStart(p.line);
    for (uint32_t column = 1; column < p.column && at < text_.size() && text_[at] != '\n';
         ++column) {
      const auto lead = static_cast<unsigned char>(text_[at]);
      at += lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    }
    return std::min(at, text_.size());
  }
  size_t LineStart(uint32_t line) const {
    return line == 0 || line > starts_.size() ? text_.size() : starts_[line - 1];
  }
  // Past the '\n' that ends the line holding `offset` (or the end of the text).
  size_t LineEnd(size_t offset) const {
    size_t nl = text_.find('\n', offset);
    return nl == std::string_view::npos ? text_.size() : nl + 1;
  }
  std::string_view text() const { return text_; }

 private:
  std::string_view text_;
  std::vector<size_t> starts_;
};

struct Leaf {
  const toml::node* node = nullptr;
  size_t begin = 0, end = 0;   // the value's bytes
  size_t first = 0, past = 0;  // its key's line start .. past its value's last line
  bool own_lines = false;      // nothing but blanks before the key, a comment after the value
};

struct Table {
  size_t insert_at = 0;  // where a key added to it goes
  bool known = false;    // insert_at is known: the table has keys, or a header of its own
};

struct Flat {
  std::map<Path, Leaf> leaves;
  std::map<Path, Table> tables;
  bool supported = true;
};

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

void Flatten(const toml::table& table, Path& prefix, const Lines& lines, Flat& out) {
  Table& mine = out.tables[prefix];
  if (!prefix.empty()) {
    // A table with a header of its own ("[a.b]"): keys added to it go right below it.
    size_t header = lines.LineStart(table.source().begin.line);
    std::string_view line = lines.text().substr(header, lines.LineEnd(header) - header);
    size_t bracket = line.find_first_not_of(" \t");
    if (bracket != std::string_view::npos && line.substr(bracket, 2) != "[[" &&
        line[bracket] == '[') {
      mine.insert_at = lines.LineEnd(header);
      mine.known = true;
    }
  }
  for (const auto& [key, node] : table) {
    prefix.push_back(std::string(key.str()));
    if (const toml::table* sub = node.as_table(); sub != nullptr && !sub->is_inline()) {
      Flatten(*sub, prefix, lines, out);
    } else if (const toml::array* array = node.as_array();
               array != nullptr && std::any_of(array->begin(), array->end(), [](const auto& e) {
                 return e.is_table() && !e.as_table()->is_inline();
               })) {
      out.supported = false;  // an array of tables ([[x]]) has no one span
    } else {
      Leaf leaf{.node = &node,
                .begin = lines.Offset(node.source().begin),
                .end = lines.Offset(node.source().end)};
      size_t key_at = lines.Offset(key.source().begin);
      leaf.first = lines.LineStart(key.source().begin.line);
      leaf.past = lines.LineEnd(leaf.end == 0 ? 0 : leaf.end - 1);
      std::string_view after = lines.text().substr(leaf.end, leaf.past - leaf.end);
      size_t hash = after.find('#');
      leaf.own_lines =
          IsBlank(lines.text().substr(leaf.first, key_at - leaf.first)) &&
          IsBlank(after.substr(0, hash == std::string_view::npos ? after.size() : hash));
      Table& parent = out.tables[Path(prefix.begin(), prefix.end() - 1)];
      if (!parent.known || leaf.past > parent.insert_at) parent.insert_at = leaf.past;
      parent.known = true;
      out.leaves.emplace(prefix, leaf);
    }
    prefix.pop_back();
  }
}

std::string KeyText(const std::string& key) {
  bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  if (bare) return key;
  std::string out = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string HeaderText(const Path& path) {
  std::string out = "[";
  for (size_t i = 0; i < path.size(); ++i) out += (i ? "." : "") + KeyText(path[i]);
  return out + "]";
}

struct Edit {
  size_t begin, end;
  std::string text;
};

std::optional<toml::table> TryParse(std::string_view text) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error&) {
    return std::nullopt;
  }
}

// The edits that make `current` say what `wanted` says, or nullopt where that cannot be
// done value by value.
std::optional<std::vector<Edit>> Edits(const toml::table& current, const Lines& current_lines,
                                       const toml::table& wanted, const Lines& wanted_lines) {
  Flat have, want;
  Path prefix;
  Flatten(current, prefix, current_lines, have);
  Flatten(wanted, prefix, wanted_lines, want);
  if (!have.supported || !want.supported) return std::nullopt;
  std::vector<Edit> edits;
  auto text_of = [&](const Leaf& l) {
    return std::string(wanted_lines.text().substr(l.begin, l.end - l.begin));
  };
  for (const auto& [path, leaf] : have.leaves) {
    auto it = want.leaves.find(path);
    if (it == want.leaves.end()) {
      if (!leaf.own_lines) return std::nullopt;
      edits.push_back({leaf.first, leaf.past, ""});
    } else if (toml::node_view<const toml::node>(leaf.node) !=
               toml::node_view<const toml::node>(it->second.node)) {
      edits.push_back({leaf.begin, leaf.end, text_of(it->second)});
    }
  }
  // Keys to add, by the table they go into; a table the file lacks goes at its end.
  std::map<Path, std::string> added, new_tables;
  for (const auto& [path, leaf] : want.leaves) {
    if (have.leaves.contains(path)) continue;
    Path parent(path.begin(), path.end() - 1);
    auto table = have.tables.find(parent);
    std::string line = KeyText(path.back()) + " = " + text_of(leaf) + "\n";
    if (table != have.tables.end() && (table->second.known || parent.empty())) {
      added[parent] += line;
    } else {
      new_tables[parent] += line;
    }
  }
  for (const auto& [parent, lines] : added) {
    size_t at = have.tables.at(parent).insert_at;
    // A file whose last line has no newline gets one before what follows it.
    std::string text =
        at > 0 && at == current_lines.text().size() && current_lines.text().back() != '\n'
            ? "\n" + lines
            : lines;
    edits.push_back({at, at, text});
  }
  std::string tail;
  for (const auto& [parent, lines] : new_tables) tail += "\n" + HeaderText(parent) + "\n" + lines;
  if (!tail.empty()) {
    size_t end = current_lines.text().size();
    if (end > 0 && current_lines.text().back() != '\n') tail = "\n" + tail;
    edits.push_back({end, end, tail});
  }
  return edits;
}

}  // namespace

Result<Rewritten> RewriteToSay(std::string_view current, std::string_view wanted,
                               const std::string& file) {
  std::optional<toml::table> want = TryParse(wanted);
  if (!want) return InvalidArgument(file + ": the text to write is not TOML");
  std::optional<toml::table> have = TryParse(current);
  if (!have) return Rewritten{std::string(wanted), false};
  if (*have == *want) return Rewritten{std::string(current), true};
  Lines current_lines(current), wanted_lines(wanted);
  std::optional<std::vector<Edit>> edits = Edits(*have, current_lines, *want, wanted_lines);
  if (!edits) return Rewritten{std::string(wanted), false};
  // From the end, so that each edit's offsets still hold; insertions at one place keep
  // their order.
  std::stable_sort(edits->begin(), edits->end(),
                   [](const Edit& a, const Edit& b) { return a.begin > b.begin; });
  std::string out(current);
  size_t limit = out.size();
  for (const Edit& e : *edits) {
    if (e.end > limit) return Rewritten{std::string(wanted), false};  // overlapping spans
    out.replace(e.begin, e.end - e.begin, e.text);
    limit = e.begin;
  }
  std::optional<toml::table> check = TryParse(out);
  if (!check || *check != *want) return Rewritten{std::string(wanted), false};
  return Rewritten{std::move(out), true};
}

Result<Rewritten> WithPin(std::string_view current, const std::string& version,
                          const std::string& digest, const std::string& file) {
  std::optional<toml::table> table = current.empty() ? toml::table{} : TryParse(current);
  if (!table) {
    return InvalidArgument(file + " does not parse as TOML: fix it by hand, then pin again");
  }
  table->insert_or_assign("version", version);
  table->insert_or_assign("digest", digest);
  // Basic strings ("…"), as people write pins: a spliced value takes the wanted spelling.
  std::ostringstream wanted;
  wanted << toml::toml_formatter(*table, toml::toml_formatter::default_flags &
                                             ~toml::format_flags::allow_literal_strings)
         << "\n";
  if (current.empty()) return Rewritten{wanted.str(), true};
  return RewriteToSay(current, wanted.str(), file);
}

}  // namespace lockstep::deploy
