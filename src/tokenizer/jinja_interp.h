// src/tokenizer/jinja_interp.h — evaluates a parsed Jinja template over a JSON context with the
// semantics of jinja2's ImmutableSandboxedEnvironment as transformers configures it
// (trim_blocks, lstrip_blocks, tojson, raise_exception, strftime_now; lists are immutable).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja_parser.h"

namespace lightllm::tokenizer::jinja {

// Renders `root` with the variables of `context` (an object). Errors name line and column.
core::Result<std::string> render(const std::vector<NodePtr>& root, const Json& context);

}  // namespace lightllm::tokenizer::jinja
