// src/kv/prefix_cache.cpp — radix tree of cached token prefixes; see prefix_cache.h.
#include "kv/prefix_cache.h"

#include <algorithm>
#include <queue>

namespace lightllm::kv {

struct PrefixCache::Node {
  std::vector<int32_t> key;    // token ids on the edge from parent to this node
  std::vector<int32_t> value;  // [key.size()] their slots
  Node* parent = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<Node>> children;  // by first token of child key
  int32_t ref = 0;
  uint64_t last_access = 0;
};

PrefixCache::PrefixCache(TokenPool* pool) : pool_(pool), root_(std::make_unique<Node>()) {
  root_->ref = 1;  // the root is never evicted
}

PrefixCache::~PrefixCache() = default;

static size_t common_prefix(std::span<const int32_t> a, std::span<const int32_t> b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

PrefixCache::Node* PrefixCache::split(Node* node, size_t at) {
  // parent -> [new_node: key[0,at)] -> [node: key[at,end)]
  Node* parent = node->parent;
  auto owned = std::move(parent->children[node->key[0]]);
  auto mid = std::make_unique<Node>();
  mid->key.assign(node->key.begin(), node->key.begin() + static_cast<ptrdiff_t>(at));
  mid->value.assign(node->value.begin(), node->value.begin() + static_cast<ptrdiff_t>(at));
  mid->parent = parent;
  mid->ref = node->ref;  // every holder through node also goes through mid
  mid->last_access = node->last_access;
  node->key.erase(node->key.begin(), node->key.begin() + static_cast<ptrdiff_t>(at));
  node->value.erase(node->value.begin(), node->value.begin() + static_cast<ptrdiff_t>(at));
  node->parent = mid.get();
  Node* mid_ptr = mid.get();
  mid->children.emplace(node->key[0], std::move(owned));
  parent->children[mid_ptr->key[0]] = std::move(mid);
  ++node_count_;
  return mid_ptr;
}

PrefixCache::Match PrefixCache::match_prefix(std::span<const int32_t> ids) {
  Match m;
  m.node = root_.get();
  const uint64_t now = tick();
  size_t pos = 0;
  Node* node = root_.get();
  while (pos < ids.size()) {
    auto it = node->children.find(ids[pos]);
    if (it == node->children.end()) break;
    Node* child = it->second.get();
    const size_t l = common_prefix(child->key, ids.subspan(pos));
    if (l < child->key.size()) child = split(child, l);
    child->last_access = now;
    m.slots.insert(m.slots.end(), child->value.begin(), child->value.end());
    pos += l;
    node = child;
  }
  m.n_matched = static_cast<int64_t>(pos);
  m.node = node;
  return m;
}

void PrefixCache::inc_ref(Node* node) {
  for (Node* n = node; n != nullptr && n != root_.get(); n = n->parent) {
    if (n->ref++ == 0) protected_size_ += static_cast<int64_t>(n->value.size());
  }
}

void PrefixCache::dec_ref(Node* node) {
  for (Node* n = node; n != nullptr && n != root_.get(); n = n->parent) {
    if (--n->ref == 0) protected_size_ -= static_cast<int64_t>(n->value.size());
  }
}

core::Result<PrefixCache::Node*> PrefixCache::insert(std::span<const int32_t> ids,
                                                     std::span<const int32_t> slots) {
  if (ids.size() != slots.size()) {
    return core::internal_error("PrefixCache::insert: {} ids but {} slots", ids.size(),
                                slots.size());
  }
  const uint64_t now = tick();
  std::vector<int32_t> duplicates;  // passed slots whose token is already cached elsewhere
  Node* node = root_.get();
  size_t pos = 0;
  while (pos < ids.size()) {
    auto it = node->children.find(ids[pos]);
    if (it == node->children.end()) {
      auto leaf = std::make_unique<Node>();
      leaf->key.assign(ids.begin() + static_cast<ptrdiff_t>(pos), ids.end());
      leaf->value.assign(slots.begin() + static_cast<ptrdiff_t>(pos), slots.end());
      leaf->parent = node;
      leaf->last_access = now;
      size_ += static_cast<int64_t>(leaf->value.size());
      ++node_count_;
      Node* leaf_ptr = leaf.get();
      node->children.emplace(ids[pos], std::move(leaf));
      node = leaf_ptr;
      break;
    }
    Node* child = it->second.get();
    const size_t l = common_prefix(child->key, ids.subspan(pos));
    if (l < child->key.size()) child = split(child, l);
    for (size_t i = 0; i < l; ++i) {
      if (child->value[i] != slots[pos + i]) duplicates.push_back(slots[pos + i]);
    }
    child->last_access = now;
    pos += l;
    node = child;
  }
  if (!duplicates.empty()) LLM_RETURN_IF_ERROR(pool_->free(duplicates));
  return node;
}

int64_t PrefixCache::evict(int64_t n_slots) {
  using Item = std::pair<uint64_t, Node*>;  // (last_access, leaf): oldest first
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  // Collect unreferenced leaves (iterative DFS).
  std::vector<Node*> stack{root_.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (n != root_.get() && n->children.empty() && n->ref == 0) heap.emplace(n->last_access, n);
    for (auto& [tok, c] : n->children) stack.push_back(c.get());
  }
  int64_t freed = 0;
  while (freed < n_slots && !heap.empty()) {
    Node* leaf = heap.top().second;
    heap.pop();
    Node* parent = leaf->parent;
    // Slots in the tree are always in use in the pool; a failure here is a broken invariant.
    const core::Status st = pool_->free(leaf->value);
    if (!st.ok()) break;
    freed += static_cast<int64_t>(leaf->value.size());
    size_ -= static_cast<int64_t>(leaf->value.size());
    --node_count_;
    parent->children.erase(leaf->key[0]);  // destroys leaf
    if (parent != root_.get() && parent->children.empty() && parent->ref == 0) {
      heap.emplace(parent->last_access, parent);
    }
  }
  return freed;
}

std::vector<int32_t> PrefixCache::all_slots() const {
  std::vector<int32_t> out;
  std::vector<const Node*> stack{root_.get()};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    out.insert(out.end(), n->value.begin(), n->value.end());
    for (const auto& [tok, c] : n->children) stack.push_back(c.get());
  }
  return out;
}

core::Status PrefixCache::check_invariants() const {
  int64_t total = 0, prot = 0, nodes = 0;
  std::vector<const Node*> stack{root_.get()};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (n != root_.get()) {
      ++nodes;
      if (n->key.empty() || n->key.size() != n->value.size()) {
        return core::internal_error("prefix cache: node with {} keys and {} slots", n->key.size(),
                                    n->value.size());
      }
      if (n->ref < 0) return core::internal_error("prefix cache: negative ref {}", n->ref);
      total += static_cast<int64_t>(n->value.size());
      if (n->ref > 0) prot += static_cast<int64_t>(n->value.size());
      for (const int32_t s : n->value) {
        if (s < 0 || s >= pool_->capacity() || !pool_->is_used(s)) {
          return core::internal_error("prefix cache holds slot {} that the pool calls free", s);
        }
      }
    }
    for (const auto& [tok, c] : n->children) {
      if (c->parent != n || c->key[0] != tok) {
        return core::internal_error("prefix cache: broken parent/child link");
      }
      if (n != root_.get() && c->ref > n->ref) {
        return core::internal_error("prefix cache: child ref {} > parent ref {}", c->ref, n->ref);
      }
      stack.push_back(c.get());
    }
  }
  if (total != size_ || prot != protected_size_ || nodes != node_count_) {
    return core::internal_error(
        "prefix cache counters: size {} (tree {}), protected {} (tree {}), nodes {} (tree {})",
        size_, total, protected_size_, prot, node_count_, nodes);
  }
  return {};
}

}  // namespace lightllm::kv
