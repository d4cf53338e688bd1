// `rotortree show`: a small tree drawn level by level, as text and as SVG,
// marking lifted nodes, partial groups and (with --index) a proof's path and
// the siblings the proof carries.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <iostream>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "rotortree/codec.hpp"
#include "rotortree/geometry.hpp"

namespace rotortree::cli {
namespace {

/// Largest tree `show` draws: beyond it a picture says nothing.
constexpr std::uint64_t kMaxShowLeaves = 512;

struct ShowOptions {
  TreeSource source;
  std::optional<std::uint64_t> index;
  std::string index_text;
  std::string svg;
  unsigned digits = 4;
};

/// What a node is in the picture.
enum class Role { plain, path, sibling };

/// The tree, its shape and the marks of one proof.
struct Picture {
  ProofParams params;
  std::uint64_t size = 0;
  unsigned arity = 0;
  unsigned depth = 0;
  std::vector<std::vector<Node>> levels;  // levels[l][j], l = 0 (leaves) .. depth (root)
  std::optional<std::uint64_t> index;     // the proof's leaf

  std::uint64_t length(unsigned l) const { return levels[l].size(); }
  /// The parent (l, j) is its only child carried up unchanged.
  bool lifted(unsigned l, std::uint64_t j) const { return l > 0 && length(l - 1) - j * arity == 1; }
  /// Members of the group of level l whose parent is g.
  unsigned group_size(unsigned l, std::uint64_t g) const {
    return static_cast<unsigned>(std::min<std::uint64_t>(arity, length(l) - g * arity));
  }
  /// Leaves under node (l, j): [first, end).
  std::pair<std::uint64_t, std::uint64_t> span(unsigned l, std::uint64_t j) const {
    std::uint64_t width = 1;
    for (unsigned i = 0; i < l; ++i) width *= arity;
    return {j * width, std::min(size, (j + 1) * width)};
  }
  Role role(unsigned l, std::uint64_t j) const {
    if (!index) return Role::plain;
    std::uint64_t on_path = *index;
    for (unsigned i = 0; i < l; ++i) on_path = geometry::parent_of(on_path, arity);
    if (j == on_path) return Role::path;
    if (l < depth && geometry::parent_of(j, arity) == geometry::parent_of(on_path, arity)) return Role::sibling;
    return Role::plain;
  }
};

std::string hex_prefix(const Node& node, unsigned digits) { return to_hex(node).substr(0, digits); }

/// printf to standard output through std::cout (main checks it is written).
[[gnu::format(printf, 1, 2)]] void print(const char* format, ...) {
  va_list args, copy;
  va_start(args, format);
  va_copy(copy, args);
  const int length = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string text(static_cast<std::size_t>(std::max(length, 0)) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  va_end(args);
  text.pop_back();
  std::cout << text;
}

// --- Text ----------------------------------------------------------------------

/// A grid of cells, each one glyph (UTF-8) with a style, printed with ANSI
/// colours when standard output is a terminal.
class Canvas {
 public:
  Canvas(std::size_t rows, std::size_t columns) : cells_(rows, std::vector<Cell>(columns)) {}
  void put(std::size_t row, std::size_t column, std::string glyph, Role style = Role::plain) {
    if (column < cells_[row].size()) cells_[row][column] = {std::move(glyph), style};
  }
  void text(std::size_t row, std::size_t column, const std::string& ascii, Role style = Role::plain) {
    for (std::size_t i = 0; i < ascii.size(); ++i) put(row, column + i, std::string(1, ascii[i]), style);
  }
  const std::string& at(std::size_t row, std::size_t column) const { return cells_[row][column].glyph; }
  std::string render(std::size_t row, bool color) const {
    std::string line;
    Role current = Role::plain;
    for (const Cell& cell : cells_[row]) {
      if (color && cell.style != current) {
        line += cell.style == Role::path ? "\x1b[1;31m" : cell.style == Role::sibling ? "\x1b[1;34m" : "\x1b[0m";
        current = cell.style;
      }
      line += cell.glyph;
    }
    if (color && current != Role::plain) line += "\x1b[0m";
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
  }

 private:
  struct Cell {
    std::string glyph = " ";
    Role style = Role::plain;
  };
  std::vector<std::vector<Cell>> cells_;
};

void print_text(const Picture& p, unsigned digits, bool color) {
  // A node is drawn as [marker][hex][suffix]; each leaf column is that plus a
  // gap on both sides, where the brackets of its group go.
  const std::size_t node_width = digits + 2, cell = node_width + 2, margin = 10;
  const std::size_t columns = margin + p.size * cell;
  const std::size_t rows = 2 * p.depth + 1;
  Canvas canvas(rows, columns);
  auto center = [&](unsigned l, std::uint64_t j) {
    const auto [first, end] = p.span(l, j);
    return margin + (first * cell + end * cell) / 2;
  };
  auto start = [&](unsigned l, std::uint64_t j) { return center(l, j) - node_width / 2; };
  auto row_of = [&](unsigned l) { return static_cast<std::size_t>(2 * (p.depth - l)); };

  for (unsigned l = 0; l <= p.depth; ++l) {
    const std::size_t row = row_of(l);
    canvas.text(row, 0, l == p.depth ? "root" : "level " + std::to_string(l));
    for (std::uint64_t j = 0; j < p.length(l); ++j) {
      const Role role = p.role(l, j);
      const char marker = role == Role::path ? '*' : role == Role::sibling ? '+' : ' ';
      const char suffix = p.lifted(l, j) ? '^' : ' ';
      canvas.text(row, start(l, j), marker + hex_prefix(p.levels[l][j], digits) + suffix, role);
    }
    if (l == p.depth) continue;
    // Group brackets on this level, connectors up to the parents.
    for (std::uint64_t g = 0; g * p.arity < p.length(l); ++g) {
      const unsigned k = p.group_size(l, g);
      const bool full = k == p.arity;
      const std::uint64_t first = g * p.arity, last = first + k - 1;
      canvas.put(row, start(l, first) - 1, full ? "[" : "(");
      canvas.put(row, start(l, last) + node_width, full ? "]" : ")");
      const std::size_t link = row - 1, parent = center(l + 1, g);
      if (k == 1) {
        canvas.put(link, parent, "│");
        continue;
      }
      const std::size_t left = center(l, first), right = center(l, last);
      for (std::size_t x = left; x <= right; ++x) canvas.put(link, x, "─");
      for (std::uint64_t j = first; j <= last; ++j) canvas.put(link, center(l, j), j == first ? "┌" : j == last ? "┐" : "┬");
      canvas.put(link, parent, canvas.at(link, parent) == "┬" ? "┼" : "┴");
    }
  }
  for (std::size_t row = 0; row < rows; ++row) print("%s\n", canvas.render(row, color).c_str());
}

void print_details(const Picture& p, unsigned digits) {
  print("\n");
  print("%llu leaves, arity %u, %s, %s, depth %u\n", static_cast<unsigned long long>(p.size), p.arity,
              std::string(to_string(p.params.hash)).c_str(), std::string(to_string(p.params.node_hash)).c_str(),
              p.depth);
  print("root %s\n", to_hex(p.levels[p.depth][0]).c_str());
  for (unsigned l = p.depth; l-- > 0;) {
    std::uint64_t full = 0, partial = 0, lone = 0;
    for (std::uint64_t g = 0; g * p.arity < p.length(l); ++g) {
      const unsigned k = p.group_size(l, g);
      (k == p.arity ? full : k == 1 ? lone : partial) += 1;
    }
    print("level %u -> %u: %llu full group%s hashed", l, l + 1, static_cast<unsigned long long>(full),
                full == 1 ? "" : "s");
    if (partial) print(", 1 partial group of %u hashed", p.group_size(l, full));
    if (lone) print(", 1 node lifted");
    print("\n");
  }
  print("\nlegend: [ ] a full group of %u   ( ) a partial group (fewer than %u: hashed as it is)\n", p.arity,
              p.arity);
  print("        ^ lifted: the parent of a group of one is that node, not a hash\n");
  if (p.index) print("        * the proof's path (leaf %llu up to the root)   + a sibling the proof carries\n",
                           static_cast<unsigned long long>(*p.index));
  print("        nodes are shown by their first %u hex digits\n", digits);
}

void print_proof(const Picture& p, const InclusionProof& proof, unsigned digits) {
  const Verdict verdict = verify(proof);
  print("\nproof of leaf %llu (%s…): %zu levels, %zu siblings, %zu bytes binary, %zu bytes JSON: %s\n",
              static_cast<unsigned long long>(proof.leaf_index), hex_prefix(proof.leaf, digits).c_str(),
              proof.path.levels.size(), proof.path.siblings.size(), to_binary(proof).size(), to_json(proof).size(),
              verdict.valid ? "valid" : ("INVALID: " + verdict.reason).c_str());
  for (std::size_t l = 0; l < proof.path.levels.size(); ++l) {
    const auto siblings = proof.path.siblings_of(l);
    print("  level %zu: position %u", l, unsigned(proof.path.levels[l].position));
    if (siblings.empty()) {
      print(", lifted: no siblings\n");
      continue;
    }
    print(" of %zu, siblings", siblings.size() + 1);
    for (const Node& s : siblings) print(" %s", hex_prefix(s, digits).c_str());
    print("\n");
  }
  (void)p;
}

// --- SVG -----------------------------------------------------------------------

std::string svg_picture(const Picture& p, unsigned digits) {
  const double char_width = 7.8;
  const double box_w = digits * char_width + 14, box_h = 22, gap = 10, pitch = box_w + gap;
  const double level_h = 74, left = 78, top = 64;
  const double width = left + p.size * pitch + 20;
  const double tree_bottom = top + p.depth * level_h + box_h;
  const double legend_top = tree_bottom + 34;
  const double height = legend_top + (p.index ? 64 : 44);
  auto cx = [&](unsigned l, std::uint64_t j) {
    const auto [first, end] = p.span(l, j);
    return left + (first + end) * pitch / 2;
  };
  auto cy = [&](unsigned l) { return top + (p.depth - l) * level_h + box_h / 2; };
  const char* path_fill = "#ffd8a8";
  const char* path_stroke = "#e8590c";
  const char* sibling_fill = "#d0ebff";
  const char* sibling_stroke = "#1971c2";

  std::ostringstream svg;
  svg.setf(std::ios::fixed);
  svg.precision(1);
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << std::max(width, 640.0) << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << std::max(width, 640.0) << " " << height << "\" font-family=\"DejaVu Sans Mono, monospace\" font-size=\"13\">\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg << "<text x=\"12\" y=\"24\" font-size=\"15\" font-weight=\"bold\">rotortree: " << p.size << " leaves, arity "
      << p.arity << ", " << to_string(p.params.hash) << ", " << to_string(p.params.node_hash) << ", depth " << p.depth
      << "</text>\n";
  svg << "<text x=\"12\" y=\"44\" fill=\"#555\">root " << to_hex(p.levels[p.depth][0]);
  if (p.index) svg << " · proof of leaf " << *p.index;
  svg << "</text>\n";

  // Groups (behind everything), then the lines from each group to its parent.
  for (unsigned l = 0; l < p.depth; ++l) {
    for (std::uint64_t g = 0; g * p.arity < p.length(l); ++g) {
      const unsigned k = p.group_size(l, g);
      const std::uint64_t first = g * p.arity, last = first + k - 1;
      const double x0 = cx(l, first) - box_w / 2 - 5, x1 = cx(l, last) + box_w / 2 + 5;
      const double y0 = cy(l) - box_h / 2 - 5;
      if (k == 1) continue;  // a group of one: shown by its lifted parent
      svg << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << x1 - x0 << "\" height=\"" << box_h + 10
          << "\" rx=\"7\" fill=\"" << (k == p.arity ? "#f1f3f5" : "#fff9db") << "\" stroke=\""
          << (k == p.arity ? "#ced4da" : "#f08c00") << "\"" << (k == p.arity ? "" : " stroke-dasharray=\"3,3\"")
          << "><title>" << (k == p.arity ? "full group" : "partial group") << " of " << k << "</title></rect>\n";
    }
  }
  for (unsigned l = 0; l < p.depth; ++l) {
    for (std::uint64_t j = 0; j < p.length(l); ++j) {
      const std::uint64_t parent = j / p.arity;
      const bool lone = p.group_size(l, parent) == 1;
      const bool on_path = p.role(l, j) == Role::path;
      svg << "<line x1=\"" << cx(l, j) << "\" y1=\"" << cy(l) - box_h / 2 - (lone ? 0 : 5) << "\" x2=\""
          << cx(l + 1, parent) << "\" y2=\"" << cy(l + 1) + box_h / 2 << "\" stroke=\""
          << (on_path ? path_stroke : "#868e96") << "\" stroke-width=\"" << (on_path ? 2.5 : 1.2) << "\""
          << (lone ? " stroke-dasharray=\"5,4\"" : "") << "/>\n";
    }
  }
  // Nodes.
  for (unsigned l = 0; l <= p.depth; ++l) {
    svg << "<text x=\"12\" y=\"" << cy(l) + 4 << "\" fill=\"#555\">" << (l == p.depth ? "root" : "level " + std::to_string(l))
        << "</text>\n";
    for (std::uint64_t j = 0; j < p.length(l); ++j) {
      const Role role = p.role(l, j);
      const bool lifted = p.lifted(l, j);
      const char* fill = role == Role::path ? path_fill : role == Role::sibling ? sibling_fill : "white";
      const char* stroke = role == Role::path ? path_stroke : role == Role::sibling ? sibling_stroke : "#343a40";
      svg << "<g><title>level " << l << ", node " << j << (lifted ? " (lifted)" : "") << ": "
          << to_hex(p.levels[l][j]) << "</title>"
          << "<rect x=\"" << cx(l, j) - box_w / 2 << "\" y=\"" << cy(l) - box_h / 2 << "\" width=\"" << box_w
          << "\" height=\"" << box_h << "\" rx=\"3\" fill=\"" << fill << "\" stroke=\"" << stroke
          << "\" stroke-width=\"" << (role == Role::plain ? 1.2 : 2.2) << "\""
          << (lifted ? " stroke-dasharray=\"4,3\"" : "") << "/>"
          << "<text x=\"" << cx(l, j) << "\" y=\"" << cy(l) + 4.5 << "\" text-anchor=\"middle\">"
          << hex_prefix(p.levels[l][j], digits) << "</text></g>\n";
    }
  }
  // Legend.
  double x = 12;
  const double y = legend_top;
  auto swatch = [&](const char* fill, const char* stroke, const char* dash, const std::string& label) {
    svg << "<rect x=\"" << x << "\" y=\"" << y - 12 << "\" width=\"26\" height=\"16\" rx=\"3\" fill=\"" << fill
        << "\" stroke=\"" << stroke << "\" stroke-width=\"1.5\"" << dash << "/>"
        << "<text x=\"" << x + 32 << "\" y=\"" << y << "\">" << label << "</text>\n";
    x += 32 + label.size() * char_width + 22;
  };
  swatch("#f1f3f5", "#ced4da", "", "full group (" + std::to_string(p.arity) + ")");
  swatch("#fff9db", "#f08c00", " stroke-dasharray=\"3,3\"", "partial group");
  swatch("white", "#343a40", " stroke-dasharray=\"4,3\"", "lifted node (group of one)");
  if (p.index) {
    x = 12;
    svg << "<g transform=\"translate(0,26)\">\n";  // a second row
    swatch(path_fill, path_stroke, "", "proof path");
    swatch(sibling_fill, sibling_stroke, "", "sibling carried by the proof");
    svg << "</g>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

// --- The command ------------------------------------------------------------------

void refuse_large(std::uint64_t leaves) {
  throw Error(Errc::invalid_argument,
              "show draws trees of at most " + std::to_string(kMaxShowLeaves) + " leaves; this one has " +
                  std::to_string(leaves) + " (use `rotortree root`/`prove` for large trees)");
}

void run_show(CLI::App& command, ShowOptions& options) {
  if (options.digits < 2 || options.digits > 64)
    throw Error(Errc::invalid_argument, "--digits must be in 2..64");
  // A large leaf file is refused before it is read.
  if (CLI::Option* leaves = command.get_option("--leaves"); leaves->count() > 0) {
    const std::string path = leaves->as<std::string>();
    struct stat st;
    if (path != "-" && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<std::uint64_t>(st.st_size) > kMaxShowLeaves * sizeof(Node))
      refuse_large(static_cast<std::uint64_t>(st.st_size) / sizeof(Node));
  }
  if (!options.index_text.empty()) options.index = parse_u64(options.index_text, "--index");
  const std::unique_ptr<AnySnapshot> snapshot = options.source.open();
  if (snapshot->size() > kMaxShowLeaves) refuse_large(snapshot->size());

  Picture p;
  p.params = snapshot->params().proof();
  p.size = snapshot->size();
  p.arity = p.params.arity;
  p.depth = snapshot->depth();
  p.levels.resize(p.depth + 1);
  for (unsigned l = 0; l <= p.depth; ++l) {
    const std::uint64_t length = geometry::level_length(p.size, p.arity, l);
    for (std::uint64_t j = 0; j < length; ++j) p.levels[l].push_back(snapshot->node(l, j));
  }
  if (options.index && *options.index >= p.size)
    throw Error(Errc::index_out_of_range, "--index " + std::to_string(*options.index) +
                                              " is not below the tree size " + std::to_string(p.size));
  p.index = options.index;

  const bool color = isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
  print_text(p, options.digits, color);
  print_details(p, options.digits);
  if (p.index) print_proof(p, snapshot->prove(*p.index), options.digits);
  if (!options.svg.empty()) {
    write_output(options.svg, svg_picture(p, options.digits));
    std::fprintf(stderr, "wrote %s\n", options.svg.c_str());
  }
}

}  // namespace

void register_show_command(CLI::App& app) {
  auto options = std::make_shared<ShowOptions>();
  CLI::App* show = app.add_subcommand(
      "show", "Draw a small tree (at most 512 leaves) level by level, marking lifted nodes, partial groups and a proof");
  options->source.add_to(*show);
  show->add_option("--index", options->index_text, "Mark the inclusion proof of this leaf: its path and siblings")
      ->type_name("I");
  show->add_option("--svg", options->svg, "Also write the picture as SVG to this file")->type_name("FILE");
  show->add_option("--digits", options->digits, "Hex digits shown per node (2..64)")->capture_default_str();
  show->callback([show, options] { run_show(*show, *options); });
}

}  // namespace rotortree::cli
