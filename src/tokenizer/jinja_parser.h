// src/tokenizer/jinja_parser.h — the Jinja template syntax tree and its parser.
// Supports the subset chat templates use: text, {{ expr }}, {# comments #}, {% if/elif/else %},
// {% for x[, y] in expr [if cond] %}...{% else %}, {% set %} (incl. ns.attr and block form),
// {% macro %}, {% raw %}, whitespace control {%- -%} {%+ +%}, trim_blocks + lstrip_blocks (as
// transformers enables them). Expressions: literals, lists, dicts, tuples, attribute / index /
// slice, calls with keyword args, filters, tests, arithmetic, comparisons, and/or/not, in, ~,
// inline if/else. Errors carry "line L, column C".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja_value.h"

namespace lightllm::tokenizer::jinja {

struct Node;
using NodePtr = std::unique_ptr<Node>;

struct Node {
  enum class Kind {
    // statements
    text,
    output,
    if_,
    for_,
    set,
    set_block,
    macro,
    break_,
    continue_,
    filter_block,
    // expressions
    literal,
    name,
    attr,
    index,
    slice,
    call,
    filter,
    test,
    unary,
    binary,
    cond,
    list,
    dict,
    tuple
  };
  Kind kind;
  int line = 0, col = 0;
  std::string str;                 // text, name, operator, attribute, filter / test name
  Json lit;                        // literal value
  bool flag = false;               // test: negated ("is not")
  std::vector<NodePtr> a;          // operands / arguments (nullable entries for slices)
  std::vector<std::string> names;  // loop / set targets, macro parameters
  std::vector<std::pair<std::string, NodePtr>> kwargs;
  std::vector<NodePtr> body, else_body;
};

// Parses `source`; the root is a list of statements.
core::Result<std::vector<NodePtr>> parse_template(const std::string& source);

}  // namespace lightllm::tokenizer::jinja
