// Tests of the fused attention kernel (ops/kernels/attention.h): the tiled Highway version
// against the scalar reference (kernels::reference), forward and backward, float and double, on
// every compiled Highway target; lengths around the 64-row blocks, tq != tk, head dims 1..64,
// dv != d, causal, broadcast masks (stride-0 dims, -inf entries, fully masked rows); bit-identical
// results for 1, 2 and 3 threads (which also switches the backward between its two schedules).
#include "taesan/ops/kernels/attention.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/hwy_target_guard.h"
#include "hwy/highway.h"
#include "taesan/core/error.h"
#include "taesan/core/parallel.h"

namespace ts = taesan;
namespace k = taesan::kernels;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

using taesan::testing::for_each_target;

/// Restores the thread count at scope exit.
struct ThreadsGuard {
  int saved = ts::get_num_threads();
  ~ThreadsGuard() { ts::set_num_threads(saved); }
};

enum class MaskKind {
  kNone,
  kFull,        ///< (B, H, Tq, Tk) random, ~15% -inf, one fully masked row
  kKeyPadding,  ///< (B, 1, 1, Tk): the last keys of batch 1 are -inf (strides b, 0, 0, 1)
  kRowShared,   ///< (1, 1, Tq, Tk) shared by every (b, h): rows 0 and 2 fully masked
  kPerQuery,    ///< (B, H, Tq, 1) broadcast over keys (stride 0 in j): query 1 -inf
  kTransposed,  ///< (B, H, Tq, Tk) stored key-major (stride 1 in i): a random -inf pattern
  kAllMasked,   ///< (1, 1, 1, 1) = -inf: every row fully masked
};

const char* mask_name(MaskKind m) {
  switch (m) {
    case MaskKind::kNone:
      return "none";
    case MaskKind::kFull:
      return "full";
    case MaskKind::kKeyPadding:
      return "key padding";
    case MaskKind::kRowShared:
      return "row shared";
    case MaskKind::kPerQuery:
      return "per query";
    case MaskKind::kTransposed:
      return "transposed";
    case MaskKind::kAllMasked:
      return "all masked";
  }
  return "?";
}

struct Case {
  int64_t batch, heads, tq, tk, d, dv;
  bool causal;
  MaskKind mask = MaskKind::kNone;
  double scale = 0;  // 0: 1 / sqrt(d)
};

std::string describe(const Case& c) {
  std::ostringstream os;
  os << "B=" << c.batch << " H=" << c.heads << " tq=" << c.tq << " tk=" << c.tk << " d=" << c.d
     << " dv=" << c.dv << (c.causal ? " causal" : "") << " mask=" << mask_name(c.mask)
     << " scale=" << c.scale;
  return os.str();
}

/// Inputs, mask and upstream gradient of one case, deterministic per case.
template <typename T>
struct Problem {
  k::AttentionParams p;
  std::vector<T> q, kk, v, dout, mask;

  explicit Problem(const Case& c, uint32_t seed = 1) {
    p.batch = c.batch;
    p.heads = c.heads;
    p.tq = c.tq;
    p.tk = c.tk;
    p.d = c.d;
    p.dv = c.dv;
    p.causal = c.causal;
    p.scale =
        c.scale != 0 ? c.scale : 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(c.d, 1)));
    std::mt19937 rng(seed + static_cast<uint32_t>(c.tq * 131 + c.tk * 17 + c.d * 7 + c.dv));
    std::normal_distribution<double> normal(0.0, 1.0);
    auto fill = [&](std::vector<T>& x, int64_t n) {
      x.resize(static_cast<size_t>(n));
      for (T& e : x) e = static_cast<T>(normal(rng));
    };
    const int64_t bh = c.batch * c.heads;
    fill(q, bh * c.tq * c.d);
    fill(kk, bh * c.tk * c.d);
    fill(v, bh * c.tk * c.dv);
    fill(dout, bh * c.tq * c.dv);
    make_mask(c, rng);
  }

  void make_mask(const Case& c, std::mt19937& rng) {
    std::uniform_real_distribution<double> unif(0.0, 1.0);
    const T neg_inf = -std::numeric_limits<T>::infinity();
    auto value = [&](double p_masked) {
      return unif(rng) < p_masked ? neg_inf : static_cast<T>(2 * unif(rng) - 1);
    };
    const int64_t B = c.batch, H = c.heads, Q = c.tq, K = c.tk;
    switch (c.mask) {
      case MaskKind::kNone:
        return;
      case MaskKind::kFull:
        mask.resize(static_cast<size_t>(B * H * Q * K));
        for (T& e : mask) e = value(0.15);
        if (Q > 1)
          for (int64_t j = 0; j < K; ++j) mask[static_cast<size_t>(1 * K + j)] = neg_inf;
        set_strides(H * Q * K, Q * K, K, 1);
        return;
      case MaskKind::kKeyPadding:
        mask.assign(static_cast<size_t>(B * K), T(0));
        for (int64_t j = K - K / 3; j < K && B > 1; ++j) mask[static_cast<size_t>(K + j)] = neg_inf;
        set_strides(K, 0, 0, 1);
        return;
      case MaskKind::kRowShared:
        mask.resize(static_cast<size_t>(Q * K));
        for (T& e : mask) e = value(0.1);
        for (int64_t i : {0, 2})
          if (i < Q)
            for (int64_t j = 0; j < K; ++j) mask[static_cast<size_t>(i * K + j)] = neg_inf;
        set_strides(0, 0, K, 1);
        return;
      case MaskKind::kPerQuery:
        mask.resize(static_cast<size_t>(B * H * Q));
        for (T& e : mask) e = value(0.0);
        if (Q > 1) mask[1] = neg_inf;
        set_strides(H * Q, Q, 1, 0);
        return;
      case MaskKind::kTransposed:
        // Stored as (B, H, Tk, Tq): element (i, j) at j * Tq + i.
        mask.resize(static_cast<size_t>(B * H * Q * K));
        for (T& e : mask) e = value(0.2);
        set_strides(H * Q * K, Q * K, 1, Q);
        return;
      case MaskKind::kAllMasked:
        mask.assign(1, neg_inf);
        set_strides(0, 0, 0, 0);
        return;
    }
  }

  void set_strides(int64_t sb, int64_t sh, int64_t si, int64_t sj) {
    p.mask = mask.data();
    p.mask_sb = sb;
    p.mask_sh = sh;
    p.mask_si = si;
    p.mask_sj = sj;
  }

  int64_t bh() const { return p.batch * p.heads; }
};

/// Everything one implementation produces.
template <typename T>
struct Result {
  std::vector<T> out, lse, dq, dk, dv;
};

/// Forward, then backward, with the tiled kernel or the scalar reference.
template <typename T, bool kReference>
void forward_backward(const k::AttentionParams& p, const T* q, const T* kk, const T* v,
                      const T* dout, T* out, T* lse, T* dq, T* dk, T* dv) {
  if constexpr (kReference) {
    k::reference::attention_forward(p, q, kk, v, out, lse);
    k::reference::attention_backward(p, q, kk, v, out, dout, lse, dq, dk, dv);
  } else {
    k::attention_forward(p, q, kk, v, out, lse);
    k::attention_backward(p, q, kk, v, out, dout, lse, dq, dk, dv);
  }
}

template <typename T, bool kReference>
Result<T> run(const Problem<T>& pr) {
  const k::AttentionParams& p = pr.p;
  const int64_t bh = pr.bh();
  Result<T> r;
  // Poisoned outputs: the kernels must overwrite every element.
  const T poison = std::numeric_limits<T>::quiet_NaN();
  r.out.assign(static_cast<size_t>(bh * p.tq * p.dv), poison);
  r.lse.assign(static_cast<size_t>(bh * p.tq), poison);
  r.dq.assign(static_cast<size_t>(bh * p.tq * p.d), poison);
  r.dk.assign(static_cast<size_t>(bh * p.tk * p.d), poison);
  r.dv.assign(static_cast<size_t>(bh * p.tk * p.dv), poison);
  forward_backward<T, kReference>(p, pr.q.data(), pr.kk.data(), pr.v.data(), pr.dout.data(),
                                  r.out.data(), r.lse.data(), r.dq.data(), r.dk.data(),
                                  r.dv.data());
  return r;
}

/// Relative tolerance against the scalar reference: the tiled kernel sums in another order (and
/// with FMA), which moves float results by ~1e-5 relative when scores reach +-25.
template <typename T>
double tolerance() {
  return sizeof(T) == 4 ? 2e-4 : 2e-12;
}

/// |got - want| <= tol * (1 + |want|) elementwise (equal infinities pass), no NaN anywhere.
template <typename T>
void check_close(const char* what, const std::vector<T>& got, const std::vector<T>& want) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  const double tol = tolerance<T>();
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    const bool ok = !std::isnan(g) && (g == w || std::abs(g - w) <= tol * (1 + std::abs(w)));
    if (!ok && bad++ == 0) first = i;
  }
  INFO("mismatches " << bad << ", first at " << first << ": got "
                     << (bad ? double(got[first]) : 0.0) << " want "
                     << (bad ? double(want[first]) : 0.0));
  REQUIRE(bad == 0);
}

template <typename T>
void check_against_reference(const Case& c) {
  INFO(describe(c));
  const Problem<T> pr(c);
  const Result<T> want = run<T, true>(pr);
  for_each_target([&] {
    const Result<T> got = run<T, false>(pr);
    check_close("out", got.out, want.out);
    check_close("lse", got.lse, want.lse);
    check_close("dq", got.dq, want.dq);
    check_close("dk", got.dk, want.dk);
    check_close("dv", got.dv, want.dv);
  });
}

/// The cases every dtype runs: lengths 1, 3, 17, 65, 130 (below, at and across the 64-row
/// blocks), tq != tk both ways, head dims 1, 8, 33, 64 with dv != d, each mask kind, causal.
std::vector<Case> cases() {
  std::vector<Case> cs;
  for (int64_t t : {1, 3, 17, 65, 130})
    for (bool causal : {false, true}) cs.push_back({1, 2, t, t, 8, 8, causal});
  for (bool causal : {false, true}) {
    cs.push_back({2, 1, 17, 65, 8, 8, causal});
    cs.push_back({1, 1, 130, 3, 8, 8, causal});
    cs.push_back({1, 2, 65, 130, 33, 8, causal});
    cs.push_back({1, 1, 130, 65, 64, 64, causal});
    cs.push_back({1, 1, 65, 65, 1, 1, causal});
    cs.push_back({1, 1, 17, 130, 8, 33, causal});
    cs.push_back({1, 1, 66, 66, 64, 16, causal, MaskKind::kNone, 3.0});  // large scores
  }
  for (MaskKind m : {MaskKind::kFull, MaskKind::kKeyPadding, MaskKind::kRowShared,
                     MaskKind::kPerQuery, MaskKind::kTransposed, MaskKind::kAllMasked}) {
    for (bool causal : {false, true}) {
      cs.push_back({2, 2, 17, 17, 8, 8, causal, m});
      cs.push_back({2, 1, 130, 65, 33, 8, causal, m});
      cs.push_back({1, 2, 64, 130, 16, 24, causal, m});
    }
  }
  return cs;
}

}  // namespace

TEMPLATE_TEST_CASE("attention kernel matches the scalar reference on every target",
                   "[kernels][attention]", float, double) {
  for (const Case& c : cases()) check_against_reference<TestType>(c);
}

TEMPLATE_TEST_CASE("attention kernel: empty sizes", "[kernels][attention]", float, double) {
  // tk = 0: every row fully masked; tq = 0: no rows (dk = dv = 0); d = 0 and dv = 0.
  for (const Case& c :
       {Case{1, 2, 5, 0, 8, 8, false}, Case{1, 2, 0, 5, 8, 8, true}, Case{2, 1, 5, 70, 0, 8, false},
        Case{2, 1, 70, 5, 8, 0, true}, Case{0, 3, 5, 5, 8, 8, false}})
    check_against_reference<TestType>(c);
}

TEMPLATE_TEST_CASE("attention kernel: fully masked rows give zeros and -inf, never NaN",
                   "[kernels][attention]", float, double) {
  using T = TestType;
  for (bool causal : {false, true}) {
    const Case c{2, 2, 70, 67, 33, 8, causal, MaskKind::kRowShared};
    INFO(describe(c));
    const Problem<T> pr(c);
    for_each_target([&] {
      const Result<T> r = run<T, false>(pr);
      for (int64_t bh = 0; bh < pr.bh(); ++bh) {
        for (int64_t i : {0, 2}) {  // the fully masked rows of kRowShared
          const int64_t row = bh * c.tq + i;
          REQUIRE(r.lse[static_cast<size_t>(row)] == -kInf);
          for (int64_t e = 0; e < c.dv; ++e)
            REQUIRE(r.out[static_cast<size_t>(row * c.dv + e)] == 0);
          for (int64_t e = 0; e < c.d; ++e) REQUIRE(r.dq[static_cast<size_t>(row * c.d + e)] == 0);
        }
        REQUIRE(std::isfinite(r.lse[static_cast<size_t>(bh * c.tq + 1)]));
      }
      for (const auto* x : {&r.out, &r.dq, &r.dk, &r.dv})
        for (T e : *x) REQUIRE(std::isfinite(e));
    });
  }
  // Every row masked: everything zero.
  const Problem<T> all(Case{1, 2, 40, 70, 8, 8, true, MaskKind::kAllMasked});
  for_each_target([&] {
    const Result<T> r = run<T, false>(all);
    for (T e : r.lse) REQUIRE(e == -kInf);
    for (const auto* x : {&r.out, &r.dq, &r.dk, &r.dv})
      for (T e : *x) REQUIRE(e == 0);
  });
}

TEMPLATE_TEST_CASE("attention kernel: bit-identical for 1, 2 and 3 threads", "[kernels][attention]",
                   float, double) {
  using T = TestType;
  ThreadsGuard guard;
  // batch * heads = 1, 2, 3, 4: the backward runs one pass per (b, h) or two passes over key and
  // query blocks depending on the thread count; both must give the same bits.
  const std::vector<Case> cs = {{1, 1, 130, 200, 33, 24, true, MaskKind::kFull},
                                {1, 2, 200, 130, 64, 64, false, MaskKind::kKeyPadding},
                                {3, 1, 129, 129, 8, 8, true, MaskKind::kNone},
                                {2, 2, 70, 65, 16, 16, false, MaskKind::kTransposed}};
  for (const Case& c : cs) {
    INFO(describe(c));
    const Problem<T> pr(c);
    ts::set_num_threads(1);
    const Result<T> one = run<T, false>(pr);
    for (int n : {2, 3}) {
      INFO(n << " threads");
      ts::set_num_threads(n);
      const Result<T> many = run<T, false>(pr);
      for (auto m :
           {&Result<T>::out, &Result<T>::lse, &Result<T>::dq, &Result<T>::dk, &Result<T>::dv}) {
        REQUIRE((one.*m).size() == (many.*m).size());
        REQUIRE(std::memcmp((one.*m).data(), (many.*m).data(), (one.*m).size() * sizeof(T)) == 0);
      }
    }
  }
}

TEST_CASE("attention kernel: long rows in float (many blocks, online rescaling)",
          "[kernels][attention]") {
  // 6 key blocks with growing score scale: the running max changes between blocks.
  const Case c{1, 2, 300, 380, 64, 64, false, MaskKind::kNone, 0.5};
  INFO(describe(c));
  Problem<float> pr(c);
  for (size_t i = 0; i < pr.kk.size(); ++i) pr.kk[i] *= 1.0f + float(i) / float(pr.kk.size());
  const Result<float> want = run<float, true>(pr);
  const Result<float> got = run<float, false>(pr);
  check_close("out", got.out, want.out);
  check_close("lse", got.lse, want.lse);
  check_close("dq", got.dq, want.dq);
  check_close("dk", got.dk, want.dk);
  check_close("dv", got.dv, want.dv);
}

TEST_CASE("attention kernel: bad arguments throw ts::Error", "[kernels][attention]") {
  std::vector<float> x(64, 1.0f);
  k::AttentionParams p;
  p.batch = 1;
  p.heads = 1;
  p.tq = 2;
  p.tk = 2;
  p.d = 4;
  p.dv = 4;
  float* b = x.data();
  k::AttentionParams neg = p;
  neg.tk = -1;
  REQUIRE_THROWS_AS(k::attention_forward(neg, b, b, b, b, b), ts::Error);
  REQUIRE_THROWS_WITH(k::attention_forward(neg, b, b, b, b, b),
                      Catch::Contains("attention_forward") && Catch::Contains("tk=-1"));
  REQUIRE_THROWS_WITH(k::attention_forward(p, b, nullptr, b, b, b), Catch::Contains("k is null"));
  REQUIRE_THROWS_AS(k::attention_backward(p, b, b, b, b, b, b, b, b, nullptr), ts::Error);
  REQUIRE_THROWS_AS(k::reference::attention_backward(neg, b, b, b, b, b, b, b, b, b), ts::Error);
  // Empty shapes accept null buffers.
  k::AttentionParams empty = p;
  empty.batch = 0;
  REQUIRE_NOTHROW(k::attention_forward(empty, static_cast<float*>(nullptr), nullptr, nullptr,
                                       nullptr, nullptr));
}

namespace {

/// A (B, H, t, w) contiguous operand stored token-major, (B, t, H, w), with `gap` unused
/// elements after every token's H rows (so the row stride is not simply H * w); unused elements
/// hold `fill`.
template <typename T>
struct TokenMajor {
  std::vector<T> buf;
  k::AttentionLayout layout;
  int64_t B, H, t, w;
  TokenMajor(const std::vector<T>* src, int64_t b_, int64_t h_, int64_t t_, int64_t w_, int64_t gap,
             T fill)
      : B(b_), H(h_), t(t_), w(w_) {
    const int64_t st = H * w + gap;
    layout = {t * st, w, st};
    buf.assign(static_cast<size_t>(std::max<int64_t>(B * t * st, 1)), fill);
    if (src != nullptr)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t i = 0; i < t; ++i)
            for (int64_t c = 0; c < w; ++c) at(b, h, i, c) = (*src)[idx(b, h, i, c)];
  }
  size_t idx(int64_t b, int64_t h, int64_t i, int64_t c) const {
    return static_cast<size_t>(((b * H + h) * t + i) * w + c);
  }
  T& at(int64_t b, int64_t h, int64_t i, int64_t c) {
    return buf[static_cast<size_t>(b * layout.sb + h * layout.sh + i * layout.st + c)];
  }
  /// Back to contiguous (B, H, t, w).
  std::vector<T> contiguous() {
    std::vector<T> out(static_cast<size_t>(B * H * t * w));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < t; ++i)
          for (int64_t c = 0; c < w; ++c) out[idx(b, h, i, c)] = at(b, h, i, c);
    return out;
  }
  /// The unused elements still hold `fill` (nothing wrote outside the rows).
  bool gaps_untouched(T fill) const {
    std::vector<bool> used(buf.size(), false);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < t; ++i)
          for (int64_t c = 0; c < w; ++c)
            used[static_cast<size_t>(b * layout.sb + h * layout.sh + i * layout.st + c)] = true;
    for (size_t e = 0; e < buf.size(); ++e)
      if (!used[e] && !(buf[e] == fill)) return false;
    return true;
  }
};

template <typename T, bool kReference>
void check_strided(const Case& c) {
  INFO(describe(c) << (kReference ? " (reference)" : " (kernel)"));
  const Problem<T> pr(c);
  const Result<T> want = run<T, kReference>(pr);  // contiguous layouts
  const k::AttentionParams& p0 = pr.p;
  const T fill = T(-7.25);
  TokenMajor<T> q(&pr.q, c.batch, c.heads, c.tq, c.d, 3, fill);
  TokenMajor<T> kk(&pr.kk, c.batch, c.heads, c.tk, c.d, 1, fill);
  TokenMajor<T> v(&pr.v, c.batch, c.heads, c.tk, c.dv, 0, fill);
  TokenMajor<T> dout(&pr.dout, c.batch, c.heads, c.tq, c.dv, 5, fill);
  TokenMajor<T> out(nullptr, c.batch, c.heads, c.tq, c.dv, 2, fill);
  TokenMajor<T> dq(nullptr, c.batch, c.heads, c.tq, c.d, 0, fill);
  TokenMajor<T> dk(nullptr, c.batch, c.heads, c.tk, c.d, 4, fill);
  TokenMajor<T> dv(nullptr, c.batch, c.heads, c.tk, c.dv, 1, fill);
  k::AttentionParams p = p0;
  p.q_layout = q.layout;
  p.k_layout = kk.layout;
  p.v_layout = v.layout;
  p.out_layout = out.layout;
  p.dout_layout = dout.layout;
  p.dq_layout = dq.layout;
  p.dk_layout = dk.layout;
  p.dv_layout = dv.layout;
  std::vector<T> lse(static_cast<size_t>(pr.bh() * c.tq));
  forward_backward<T, kReference>(p, q.buf.data(), kk.buf.data(), v.buf.data(), dout.buf.data(),
                                  out.buf.data(), lse.data(), dq.buf.data(), dk.buf.data(),
                                  dv.buf.data());
  // The same operations in the same order: the same bits as the contiguous call.
  auto same = [](const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
  };
  CHECK(same(out.contiguous(), want.out));
  CHECK(same(lse, want.lse));
  CHECK(same(dq.contiguous(), want.dq));
  CHECK(same(dk.contiguous(), want.dk));
  CHECK(same(dv.contiguous(), want.dv));
  for (auto* t : {&q, &kk, &v, &dout, &out, &dq, &dk, &dv}) CHECK(t->gaps_untouched(fill));
}

}  // namespace

TEMPLATE_TEST_CASE("attention kernel: token-major (B, T, H, d) layouts give the contiguous bits",
                   "[kernels][attention]", float, double) {
  ThreadsGuard guard;
  // Head dims that are and are not multiples of the lanes (in-place and padded accumulation),
  // causal and masked, and both backward schedules (1 and 3 threads).
  const std::vector<Case> cs = {{2, 3, 70, 70, 16, 16, true, MaskKind::kNone},
                                {2, 2, 65, 130, 33, 8, false, MaskKind::kKeyPadding},
                                {1, 2, 130, 65, 64, 24, true, MaskKind::kFull}};
  for (int threads : {1, 3}) {
    ts::set_num_threads(threads);
    INFO(threads << " threads");
    for (const Case& c : cs) {
      check_strided<TestType, false>(c);
      check_strided<TestType, true>(c);
    }
  }
}

TEST_CASE("attention kernel: a layout with overlapping rows throws", "[kernels][attention]") {
  std::vector<float> x(256, 1.0f);
  k::AttentionParams p;
  p.tq = p.tk = 4;
  p.d = p.dv = 8;
  p.q_layout = {32, 32, 4};  // rows of 8 floats 4 apart
  float* b = x.data();
  REQUIRE_THROWS_WITH(k::attention_forward(p, b, b, b, b, b),
                      Catch::Contains("rows of q overlap") && Catch::Contains("row stride 4"));
  p.q_layout = {};
  p.dk_layout = {-1, 0, 8};
  REQUIRE_THROWS_WITH(k::attention_backward(p, b, b, b, b, b, b, b, b, b),
                      Catch::Contains("dk") && Catch::Contains("non-negative"));
}
