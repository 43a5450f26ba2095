// Parity of nn::MultiheadAttention and the Transformer blocks with PyTorch 1.13: with the same
// weights and inputs, outputs and the gradients of every input and parameter match
// torch.nn.MultiheadAttention / TransformerEncoderLayer / TransformerDecoderLayer / the stacks.
// Fixtures: tests/fixtures/transformer/transformer_fixtures.txt, written by
// gen_transformer_fixtures.py beside it (its docstring explains the format and the name mapping).
// Every fixture case is mirrored here by a C++ case of the same name and run in float64
// (rtol 1e-10) and float32 (rtol 1e-5); the fixture inputs are exact in both dtypes.
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fixtures/fixture_reader.h"
#include "taesan/taesan.h"

namespace ts = taesan;
namespace nn = ts::nn;
using ts::Tensor;
using ts::TensorList;
using ts::fixtures::FixtureCase;
using ts::fixtures::Fixtures;
using ts::fixtures::Record;

namespace {

// The sizes of gen_transformer_fixtures.py.
constexpr int64_t kE = 8, kH = 2, kFF = 16;

const Fixtures& fixtures() {
  static const Fixtures f = ts::fixtures::parse_fixtures(
      std::string(TS_TEST_DIR) + "/fixtures/transformer/transformer_fixtures.txt");
  return f;
}

/// The forward inputs of one case by name (x, key, masks, ...).
class Inputs {
 public:
  explicit Inputs(std::map<std::string, Tensor> m) : m_(std::move(m)) {}
  /// The input; a ts::Error if the case has none of that name.
  const Tensor& operator()(const std::string& name) const {
    auto it = m_.find(name);
    if (it == m_.end())
      throw ts::Error(fmt::format("transformer parity: the case has no input '{}'", name));
    return it->second;
  }
  /// The input, or an undefined tensor (no mask) if the case has none of that name.
  Tensor opt(const std::string& name) const {
    auto it = m_.find(name);
    return it == m_.end() ? Tensor() : it->second;
  }

 private:
  std::map<std::string, Tensor> m_;
};

/// A fixture case on the C++ side: the module with torch's configuration, and its forward.
struct ParityCase {
  std::string name;
  std::function<std::shared_ptr<nn::Module>()> make;
  std::function<TensorList(const nn::Module&, const Inputs&)> forward;
};

template <class M, class Make, class Forward>
ParityCase module_case(std::string name, Make make, Forward forward) {
  return {std::move(name), [make]() -> std::shared_ptr<nn::Module> { return make(); },
          [forward](const nn::Module& m, const Inputs& in) -> TensorList {
            return forward(dynamic_cast<const M&>(m), in);
          }};
}

// ---- MultiheadAttention: the inputs present in the case decide key, value and masks ----

/// forward(x, key or x, value or key or x, {masks of the case}) -> [output] or [output, weights].
ParityCase mha_case(std::string name, bool need_weights, bool average = true, int64_t kdim = 0,
                    int64_t vdim = 0) {
  return module_case<nn::MultiheadAttention>(
      std::move(name),
      [kdim, vdim] {
        return std::make_shared<nn::MultiheadAttention>(
            kE, kH, nn::MultiheadAttentionOptions{.dropout = 0.0, .kdim = kdim, .vdim = vdim});
      },
      [need_weights, average](const nn::MultiheadAttention& m, const Inputs& in) -> TensorList {
        const Tensor& x = in("x");
        Tensor key = in.opt("key").defined() ? in("key") : x;
        Tensor value = in.opt("value").defined() ? in("value") : key;
        nn::AttentionOutput out = m.forward(x, key, value,
                                            {.attn_mask = in.opt("attn_mask"),
                                             .key_padding_mask = in.opt("key_padding_mask"),
                                             .need_weights = need_weights,
                                             .average_attn_weights = average});
        if (!need_weights) return {out.output};
        return {out.output, out.weights};
      });
}

// ---- layers and stacks ----

nn::TransformerEncoderLayerOptions layer_options(const char* activation, bool norm_first) {
  return {.dropout = 0.0, .activation = activation, .norm_first = norm_first};
}

nn::EncoderMasks encoder_masks(const Inputs& in, bool is_causal = false) {
  return {.mask = in.opt("src_mask"),
          .src_key_padding_mask = in.opt("src_key_padding_mask"),
          .is_causal = is_causal};
}

nn::DecoderMasks decoder_masks(const Inputs& in, bool tgt_is_causal = false) {
  return {.tgt_mask = in.opt("tgt_mask"),
          .memory_mask = in.opt("memory_mask"),
          .tgt_key_padding_mask = in.opt("tgt_key_padding_mask"),
          .memory_key_padding_mask = in.opt("memory_key_padding_mask"),
          .tgt_is_causal = tgt_is_causal};
}

/// is_causal: the C++ side uses the causal flag where PyTorch 1.13 got an explicit causal mask.
ParityCase encoder_layer_case(std::string name, const char* activation, bool norm_first,
                              bool is_causal = false) {
  return module_case<nn::TransformerEncoderLayer>(
      std::move(name),
      [=] {
        return std::make_shared<nn::TransformerEncoderLayer>(kE, kH, kFF,
                                                             layer_options(activation, norm_first));
      },
      [is_causal](const nn::TransformerEncoderLayer& m, const Inputs& in) -> TensorList {
        return {m.forward(in("src"), encoder_masks(in, is_causal))};
      });
}

ParityCase decoder_layer_case(std::string name, const char* activation, bool norm_first,
                              bool tgt_is_causal = false) {
  return module_case<nn::TransformerDecoderLayer>(
      std::move(name),
      [=] {
        return std::make_shared<nn::TransformerDecoderLayer>(kE, kH, kFF,
                                                             layer_options(activation, norm_first));
      },
      [tgt_is_causal](const nn::TransformerDecoderLayer& m, const Inputs& in) -> TensorList {
        return {m.forward(in("tgt"), in("memory"), decoder_masks(in, tgt_is_causal))};
      });
}

const std::vector<ParityCase>& cases() {
  static const std::vector<ParityCase> t = {
      mha_case("mha_self", false),
      mha_case("mha_self_bool_mask_avg_weights", true, true),
      mha_case("mha_self_float_mask_head_weights", true, false),
      mha_case("mha_self_float_mask_grad", false),
      mha_case("mha_self_3d_bool_mask_key_padding", false),
      mha_case("mha_cross_key_padding", false),
      mha_case("mha_cross_masks_avg_weights", true, true),
      mha_case("mha_cross_float_mask_bool_key_padding_head_weights", true, false),
      mha_case("mha_cross_float_key_padding", false),
      mha_case("mha_cross_kdim_vdim", true, true, /*kdim=*/6, /*vdim=*/4),
      encoder_layer_case("encoder_layer_relu_post_bool_masks", "relu", false),
      encoder_layer_case("encoder_layer_gelu_pre_float_mask", "gelu", true),
      encoder_layer_case("encoder_layer_relu_pre_causal", "relu", true, /*is_causal=*/true),
      encoder_layer_case("encoder_layer_gelu_post", "gelu", false),
      decoder_layer_case("decoder_layer_relu_post_causal_mask", "relu", false),
      decoder_layer_case("decoder_layer_gelu_pre_every_mask", "gelu", true,
                         /*tgt_is_causal=*/true),
      module_case<nn::TransformerEncoder>(
          "encoder_stack_2_relu_post",
          [] {
            return std::make_shared<nn::TransformerEncoder>(kE, kH, kFF, 2,
                                                            layer_options("relu", false));
          },
          [](const nn::TransformerEncoder& m, const Inputs& in) -> TensorList {
            return {m.forward(in("src"), encoder_masks(in))};
          }),
      module_case<nn::TransformerDecoder>(
          "decoder_stack_2_gelu_pre_final_norm",
          [] {
            return std::make_shared<nn::TransformerDecoder>(
                kE, kH, kFF, 2, layer_options("gelu", true), /*final_norm=*/true);
          },
          [](const nn::TransformerDecoder& m, const Inputs& in) -> TensorList {
            return {m.forward(in("tgt"), in("memory"), decoder_masks(in))};
          }),
      module_case<nn::Transformer>(
          "transformer_1_1_relu_post",
          [] {
            return std::make_shared<nn::Transformer>(
                nn::TransformerOptions{.d_model = kE,
                                       .nhead = kH,
                                       .num_encoder_layers = 1,
                                       .num_decoder_layers = 1,
                                       .dim_feedforward = kFF,
                                       .layer = layer_options("relu", false)});
          },
          [](const nn::Transformer& m, const Inputs& in) -> TensorList {
            nn::DecoderMasks tgt_masks = decoder_masks(in);
            // PyTorch got memory_key_padding_mask = src_key_padding_mask.
            tgt_masks.memory_key_padding_mask = in("src_key_padding_mask");
            return {m.forward(in("src"), in("tgt"), encoder_masks(in), tgt_masks)};
          }),
  };
  return t;
}

// ---- running a case ----

/// The worst scaled errors (see ts::fixtures::scaled_error) of one run, for the report.
struct Errors {
  double output = 0, input_grad = 0, weight_grad = 0;
  double zero_grad = 0;  ///< of k_proj.bias, relative to k_proj.weight's (see is_zero_gradient)
  std::string worst_weight;
};

/// Checks a value against its record (a Catch2 CHECK with the mismatch as message).
void check_close(const std::string& what, const Tensor& got, const Record& want, ts::DType ft,
                 double& worst, std::string* worst_name = nullptr) {
  const std::string msg = ts::fixtures::compare(what, got, want, ft);
  INFO(msg);
  CHECK(msg.empty());
  const double err = ts::fixtures::scaled_error(got, want);
  if (err > worst || (std::isinf(err) && !std::isinf(worst))) {
    worst = err;
    if (worst_name) *worst_name = want.name;
  }
}

// The gradient of k_proj.bias is zero in exact arithmetic: the bias adds q . b_k to every score
// of a query row, and softmax is invariant to a constant shift of its row (masked keys get
// -inf + const = -inf). Both PyTorch and taesan hold only rounding noise there, so it is checked
// against an absolute tolerance: rtol times the largest |gradient| of the sibling k_proj.weight.
// (For the same reason the value of k_proj.bias changes no output, in PyTorch as in taesan.)
bool is_zero_gradient(const std::string& name) {
  const std::string suffix = "k_proj.bias";
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

void check_zero_gradient(const std::string& name, const Tensor& got, const Record& want,
                         const FixtureCase& fc, ts::DType ft, double& worst) {
  const std::string sibling = name.substr(0, name.size() - 4) + "weight";  // k_proj.weight
  auto it = fc.grads.find(sibling);
  INFO("zero gradient " << name << " (scale from " << sibling << ")");
  REQUIRE(it != fc.grads.end());
  const double scale = max_abs(it->second.values);
  REQUIRE(scale > 0);
  CHECK(max_abs(want.values) <= 1e-12 * scale);  // PyTorch agrees that it is zero
  REQUIRE(got.shape() == want.shape);
  const double err = max_abs(got.to_vector<double>()) / scale;
  INFO("max |grad| / max |grad of " << sibling << "| = " << err << ", rtol "
                                    << ts::fixtures::rtol_of(ft));
  CHECK(err <= ts::fixtures::rtol_of(ft));
  worst = std::max(worst, err);
}

/// One case in one dtype: load the weights (strict: every taesan name must be in the fixture and
/// vice versa), run forward, compare the outputs, then the gradients of the inputs that require
/// grad and of every parameter, for the fixture's upstream gradients.
Errors run_case(const ParityCase& pc, const FixtureCase& fc, ts::DType ft, bool create_graph) {
  INFO("case " << fc.name << " in " << fmt::format("{}", ft)
               << (create_graph ? " (create_graph)" : ""));
  Errors errors;
  std::shared_ptr<nn::Module> module = pc.make();
  module->to(ft);
  module->train();  // dropout is 0; PyTorch ran in train mode too (no fast path)
  nn::NamedTensors weights;
  for (const Record& r : fc.weights) weights.emplace_back(r.name, ts::fixtures::make_tensor(r, ft));
  const nn::LoadResult check = module->check_state_dict(weights);
  INFO("parameter names: " << check.summary());
  REQUIRE(check.ok());
  module->load_state_dict(weights);
  const nn::NamedTensors params = module->named_parameters();
  REQUIRE(params.size() == fc.weights.size());

  std::map<std::string, Tensor> named;
  TensorList wrt;  // inputs that require grad, then the parameters
  std::vector<std::string> wrt_names;
  for (const Record& r : fc.params) {
    Tensor t = ts::fixtures::make_tensor(r, ft);
    t.requires_grad_(true);
    named[r.name] = t;
    wrt.push_back(t);
    wrt_names.push_back(r.name);
  }
  for (const Record& r : fc.inputs) named[r.name] = ts::fixtures::make_tensor(r, ft);
  for (const auto& [name, p] : params) {
    wrt.push_back(p);
    wrt_names.push_back(name);
  }
  const Inputs in(named);

  const TensorList outs = pc.forward(*module, in);
  REQUIRE(outs.size() == fc.outputs.size());
  TensorList grad_outs;
  for (size_t i = 0; i < outs.size(); ++i) {
    check_close(fmt::format("output {}", i), outs[i], fc.outputs[i], ft, errors.output);
    grad_outs.push_back(ts::fixtures::make_tensor(fc.grad_outputs.at(std::to_string(i)), ft));
  }

  ts::GradOptions options;
  options.create_graph = create_graph;
  options.allow_unused = true;  // an unused parameter gets zeros, to be compared like the rest
  const TensorList grads = ts::grad(outs, wrt, grad_outs, options);
  REQUIRE(grads.size() == wrt.size());
  REQUIRE(fc.grads.size() == wrt.size());
  for (size_t i = 0; i < wrt.size(); ++i) {
    auto it = fc.grads.find(wrt_names[i]);
    INFO("gradient of " << wrt_names[i]);
    REQUIRE(it != fc.grads.end());
    const Tensor got = grads[i].defined() ? grads[i] : ts::zeros_like(wrt[i]);
    const bool is_input = i < fc.params.size();
    if (is_zero_gradient(wrt_names[i])) {
      check_zero_gradient(wrt_names[i], got, it->second, fc, ft, errors.zero_grad);
      continue;
    }
    check_close("grad of " + wrt_names[i], got, it->second, ft,
                is_input ? errors.input_grad : errors.weight_grad,
                is_input ? nullptr : &errors.worst_weight);
  }
  return errors;
}

/// Runs every case whose name starts with `prefix` in both dtypes. With TS_PARITY_REPORT set in
/// the environment, prints the worst scaled errors (|diff| / (|e| + 0.1 max|e|)) of each run.
void run_cases(const std::string& prefix) {
  const bool report = std::getenv("TS_PARITY_REPORT") != nullptr;
  int ran = 0;
  for (const ParityCase& pc : cases()) {
    if (pc.name.rfind(prefix, 0) != 0) continue;
    auto it = fixtures().find(pc.name + " float64");
    INFO("fixture '" << pc.name << "'");
    REQUIRE(it != fixtures().end());
    for (ts::DType ft : {ts::kFloat64, ts::kFloat32}) {
      for (bool create_graph : {false, true}) {
        const Errors e = run_case(pc, it->second, ft, create_graph);
        if (report)
          fmt::print(
              "{:<51} {} {:<2} output {:7.1e} input grads {:7.1e} weight grads {:7.1e} "
              "({}) k_proj.bias {:7.1e}\n",
              pc.name, ft == ts::kFloat64 ? "f64" : "f32", create_graph ? "cg" : "", e.output,
              e.input_grad, e.weight_grad, e.worst_weight, e.zero_grad);
      }
    }
    ++ran;
  }
  CHECK(ran > 0);
}

}  // namespace

TEST_CASE("torch parity: MultiheadAttention", "[transformer][parity]") { run_cases("mha_"); }
TEST_CASE("torch parity: TransformerEncoderLayer", "[transformer][parity]") {
  run_cases("encoder_layer_");
}
TEST_CASE("torch parity: TransformerDecoderLayer", "[transformer][parity]") {
  run_cases("decoder_layer_");
}
TEST_CASE("torch parity: 2-layer stacks and Transformer", "[transformer][parity]") {
  run_cases("encoder_stack_");
  run_cases("decoder_stack_");
  run_cases("transformer_");
}

TEST_CASE("torch parity: every transformer fixture has a C++ case and vice versa",
          "[transformer][parity]") {
  std::set<std::string> names;
  for (const ParityCase& pc : cases()) {
    INFO("duplicate C++ case " << pc.name);
    CHECK(names.insert(pc.name).second);
  }
  CHECK(fixtures().size() == names.size());
  for (const auto& [key, fc] : fixtures()) {
    INFO("fixture case without a C++ case: " << key);
    CHECK(names.count(fc.name) == 1);
    CHECK(fc.dtype == "float64");
    CHECK(!fc.outputs.empty());
    CHECK(!fc.weights.empty());
    CHECK(fc.grads.size() == fc.params.size() + fc.weights.size());
  }
}

// PyTorch 1.13 returns NaN for a query row whose keys are all masked (softmax over only -inf);
// taesan deliberately returns zeros there (issue 5), so the fixtures avoid such rows. This pins
// down taesan's side: the attention of that row is 0, so its output is out_proj.bias, with and
// without the attention weights asked for.
TEST_CASE("torch parity: a fully masked row gives out_proj.bias, not NaN (PyTorch: NaN)",
          "[transformer][parity]") {
  ts::manual_seed(3);
  nn::MultiheadAttention mha(kE, kH);
  mha.to(ts::kFloat64);
  nn::init::constant_(mha.out_proj->bias, 0.25);
  Tensor x = ts::randn({1, 3, kE}, ts::kFloat64);
  // Row 1 masks every key; rows 0 and 2 see key 0 only / keys 0 and 2.
  Tensor mask =
      ts::from_vector<bool>({false, true, true, true, true, true, false, true, false}, {3, 3});
  for (bool need_weights : {false, true}) {
    INFO("need_weights " << need_weights);
    nn::AttentionForwardOptions options;
    options.attn_mask = mask;
    options.need_weights = need_weights;
    Tensor out = mha.forward(x, x, x, options).output;
    const std::vector<double> v = out.to_vector<double>();
    for (int64_t j = 0; j < kE; ++j) {
      CHECK(v[kE + j] == Approx(0.25).margin(1e-12));
      CHECK(std::isfinite(v[j]));
      CHECK(std::isfinite(v[2 * kE + j]));
    }
  }
}
