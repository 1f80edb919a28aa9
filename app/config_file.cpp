#include "app/config_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace webhookd::app {

namespace {

// A cursor over the whole text; errors stop the parse at the first problem.
class toml_subset_parser {
public:
  toml_subset_parser(const std::string& text, std::string source)
      : text_(text), source_(std::move(source)) {}

  std::variant<config_file_entries, config_file_error> run() {
    config_file_entries entries;
    while (ok_) {
      skip_blank_and_comments(true);
      if (at_end()) break;
      parse_entry(entries);
    }
    if (!ok_) return config_file_error{error_};
    return entries;
  }

private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void advance() {
    if (text_[pos_] == '\n') ++line_;
    ++pos_;
  }

  void fail(const std::string& reason) {
    if (!ok_) return;
    ok_ = false;
    error_ = "config file " + source_ + " line " + std::to_string(line_) + ": " + reason;
  }

  // Skips spaces, tabs and comments; newlines too when `newlines`.
  void skip_blank_and_comments(bool newlines) {
    while (!at_end()) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\r') {
        advance();
      } else if (c == '\n' && newlines) {
        advance();
      } else if (c == '#') {
        while (!at_end() && peek() != '\n') advance();
      } else {
        break;
      }
    }
  }

  static bool is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
  }

  void parse_entry(config_file_entries& entries) {
    if (peek() == '[') {
      fail("tables ([section]) are not supported: settings are top-level keys");
      return;
    }
    int key_line = line_;
    std::string key;
    while (!at_end() && is_key_char(peek())) {
      key += peek();
      advance();
    }
    if (key.empty()) {
      fail(std::string("expected a key, found '") + peek() + "'");
      return;
    }
    skip_blank_and_comments(false);
    if (peek() == '.') {
      fail("dotted key '" + key + ".' is not supported: settings are top-level keys");
      return;
    }
    if (peek() != '=') {
      fail("expected '=' after key '" + key + "'");
      return;
    }
    advance();
    skip_blank_and_comments(false);
    config_file_value value;
    value.line = key_line;
    if (peek() == '[') {
      value.is_array = true;
      parse_array(value.items);
    } else {
      std::string scalar;
      if (parse_scalar(scalar)) value.items.push_back(std::move(scalar));
    }
    if (!ok_) return;
    skip_blank_and_comments(false);
    if (!at_end() && peek() != '\n') {
      fail("unexpected text after the value of '" + key + "'");
      return;
    }
    if (entries.count(key) != 0) {
      fail("duplicate key '" + key + "' (first on line " + std::to_string(entries[key].line) +
           ")");
      return;
    }
    entries.emplace(std::move(key), std::move(value));
  }

  void parse_array(std::vector<std::string>& items) {
    advance();  // '['
    while (ok_) {
      skip_blank_and_comments(true);
      if (at_end()) {
        fail("unterminated array");
        return;
      }
      if (peek() == ']') {
        advance();
        return;
      }
      std::string item;
      if (!parse_scalar(item)) return;
      items.push_back(std::move(item));
      skip_blank_and_comments(true);
      if (at_end()) {
        fail("unterminated array");
        return;
      }
      if (peek() == ',') {
        advance();
      } else if (peek() != ']') {
        fail("expected ',' or ']' in array");
        return;
      }
    }
  }

  bool parse_scalar(std::string& out) {
    char c = peek();
    if (c == '"') return parse_basic_string(out);
    if (c == '\'') return parse_literal_string(out);
    std::string word;
    while (!at_end()) {
      char w = peek();
      if (w == ' ' || w == '\t' || w == '\r' || w == '\n' || w == '#' || w == ',' || w == ']')
        break;
      word += w;
      advance();
    }
    if (word == "true" || word == "false" || is_integer(word)) {
      out = word;
      return true;
    }
    if (word.empty()) {
      fail("expected a value");
    } else {
      fail("unquoted value '" + word + "': strings need quotes");
    }
    return false;
  }

  static bool is_integer(const std::string& word) {
    std::size_t i = (!word.empty() && (word[0] == '+' || word[0] == '-')) ? 1 : 0;
    if (i >= word.size()) return false;
    for (; i < word.size(); ++i) {
      if (word[i] < '0' || word[i] > '9') return false;
    }
    return true;
  }

  bool parse_literal_string(std::string& out) {
    advance();  // opening quote
    while (!at_end() && peek() != '\'' && peek() != '\n') {
      out += peek();
      advance();
    }
    if (peek() != '\'') {
      fail("unterminated string");
      return false;
    }
    advance();
    return true;
  }

  bool parse_basic_string(std::string& out) {
    advance();  // opening quote
    while (!at_end() && peek() != '"' && peek() != '\n') {
      char c = peek();
      advance();
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) break;
      char e = peek();
      advance();
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u':
          if (!append_unicode_escape(out)) return false;
          break;
        default:
          fail(std::string("unknown escape '\\") + e + "' in string");
          return false;
      }
    }
    if (peek() != '"') {
      fail("unterminated string");
      return false;
    }
    advance();
    return true;
  }

  // \uXXXX -> UTF-8.
  bool append_unicode_escape(std::string& out) {
    if (pos_ + 4 > text_.size()) {
      fail("short \\u escape in string");
      return false;
    }
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      char h = peek();
      advance();
      code <<= 4;
      if (h >= '0' && h <= '9') {
        code |= static_cast<unsigned>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        code |= static_cast<unsigned>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        code |= static_cast<unsigned>(h - 'A' + 10);
      } else {
        fail("bad \\u escape in string");
        return false;
      }
    }
    if (code >= 0xD800 && code <= 0xDFFF) {
      fail("\\u escape is a surrogate");
      return false;
    }
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
    return true;
  }

  const std::string& text_;
  std::string source_;
  std::size_t pos_ = 0;
  int line_ = 1;
  bool ok_ = true;
  std::string error_;
};

}  // namespace

std::variant<config_file_entries, config_file_error> parse_config_text(
    const std::string& text, const std::string& source_name) {
  return toml_subset_parser(text, source_name).run();
}

std::variant<config_file_entries, config_file_error> read_config_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return config_file_error{"cannot read config file " + path + ": it is a directory"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return config_file_error{"cannot read config file " + path + ": " + std::strerror(errno)};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return config_file_error{"cannot read config file " + path + ": read error"};
  }
  return parse_config_text(text.str(), path);
}

}  // namespace webhookd::app
