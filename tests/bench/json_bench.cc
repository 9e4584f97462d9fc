// JSON module throughput on a TUF-shaped targets role of 10,000 and 100,000 targets (3.1 and
// 31 MB canonical: each target lists sha256 and sha512, so about 310 bytes per target). Parse
// input is the compact standard form (and, separately, the indent=1 form python-tuf writes);
// bytes/second counts the document size in each case.
//
// Peer in the same binary: nlohmann/json 3.11 parsing the same text (BM_NlohmannParse*) and
// dumping the parsed document compactly (BM_NlohmannDump). nlohmann's dump() is NOT canonical
// JSON (it escapes control characters, keeps insertion order unless the object type sorts);
// it is a speed reference for our Canonical/Serialize only. scripts/bench.sh prints the
// ratios (tests/bench/bench_ratios.py).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/json/parser.h"
#include "core/json/value.h"
#include "core/json/writer.h"

namespace mdu::json {
namespace {

std::string PseudoHex(uint64_t* state, size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digits, '0');
  for (char& c : out) {
    *state = *state * 6364136223846793005u + 1442695040888963407u;  // LCG: fixed, reproducible
    c = kHex[(*state >> 60) & 0x0F];
  }
  return out;
}

Value MakeTargetsRole(int count) {
  uint64_t state = 12345;
  Object targets;
  targets.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    std::string path =
        "products/pump-" + std::to_string(i % 97) + "/firmware-" + std::to_string(i) + ".bin";
    Value hashes =
        Value::MakeObject({{"sha256", PseudoHex(&state, 64)}, {"sha512", PseudoHex(&state, 128)}});
    targets.emplace_back(
        std::move(path),
        Value::MakeObject({{"length", int64_t{1000000} + i},
                           {"hashes", std::move(hashes)},
                           {"custom", Value::MakeObject({{"version", "1.2.3"}})}}));
  }
  Value signed_part = Value::MakeObject({{"_type", "targets"},
                                         {"expires", "2030-01-01T00:00:00Z"},
                                         {"spec_version", "1.0.31"},
                                         {"version", 1},
                                         {"targets", Value::MakeObject(std::move(targets))}});
  Array signatures;
  for (int i = 0; i < 2; ++i) {
    signatures.push_back(
        Value::MakeObject({{"keyid", PseudoHex(&state, 64)}, {"sig", PseudoHex(&state, 128)}}));
  }
  return Value::MakeObject({{"signed", std::move(signed_part)}, {"signatures", signatures}});
}

const Value& Role(int count) {
  static auto* cache = new std::map<int, Value>();
  auto it = cache->find(count);
  if (it == cache->end()) it = cache->emplace(count, MakeTargetsRole(count)).first;
  return it->second;
}

const std::string& Text(int count, int indent) {
  static auto* cache = new std::map<std::pair<int, int>, std::string>();
  auto key = std::make_pair(count, indent);
  auto it = cache->find(key);
  if (it == cache->end()) it = cache->emplace(key, Serialize(Role(count), indent)).first;
  return it->second;
}

// free_tree: whether freeing the parsed tree is timed too (it is a large share: one heap
// block per string and container).
void RunParse(benchmark::State& state, int indent, bool free_tree) {
  const std::string& text = Text(static_cast<int>(state.range(0)), indent);
  for (auto _ : state) {
    auto v = Parse(text);
    if (!v) {
      state.SkipWithError(v.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(v);
    if (!free_tree) state.PauseTiming();
    v = Value();
    if (!free_tree) state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["doc_bytes"] = static_cast<double>(text.size());
}

void BM_Parse(benchmark::State& state) { RunParse(state, 0, false); }
void BM_ParseAndFree(benchmark::State& state) { RunParse(state, 0, true); }
void BM_ParseIndent1(benchmark::State& state) { RunParse(state, 1, false); }

void BM_Canonical(benchmark::State& state) {
  const Value& role = Role(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = Canonical(role);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["doc_bytes"] = static_cast<double>(bytes);
}

void RunSerialize(benchmark::State& state, int indent) {
  const Value& role = Role(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = Serialize(role, indent);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["doc_bytes"] = static_cast<double>(bytes);
}

void BM_Serialize(benchmark::State& state) { RunSerialize(state, 0); }
void BM_SerializeIndent1(benchmark::State& state) { RunSerialize(state, 1); }

// ---- peer: nlohmann/json on the same text ----

// Parse errors are reported as values here (allow_exceptions = false) so nothing throws.
void RunNlohmannParse(benchmark::State& state, int indent, bool free_tree) {
  const std::string& text = Text(static_cast<int>(state.range(0)), indent);
  for (auto _ : state) {
    nlohmann::json v = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (v.is_discarded()) {
      state.SkipWithError("nlohmann parse failed");
      break;
    }
    benchmark::DoNotOptimize(v);
    if (!free_tree) {
      state.PauseTiming();
    }
    v = nlohmann::json();
    if (!free_tree) {
      state.ResumeTiming();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["doc_bytes"] = static_cast<double>(text.size());
}

void BM_NlohmannParse(benchmark::State& state) { RunNlohmannParse(state, 0, false); }
void BM_NlohmannParseAndFree(benchmark::State& state) { RunNlohmannParse(state, 0, true); }
void BM_NlohmannParseIndent1(benchmark::State& state) { RunNlohmannParse(state, 1, false); }

// Compact dump of the parsed document (std::map objects: keys come out sorted, like ours,
// but strings are escaped differently: a speed reference, not a canonical form).
void BM_NlohmannDump(benchmark::State& state) {
  const nlohmann::json doc =
      nlohmann::json::parse(Text(static_cast<int>(state.range(0)), 0), nullptr, false);
  if (doc.is_discarded()) {
    state.SkipWithError("nlohmann parse failed");
    return;
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = doc.dump();
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["doc_bytes"] = static_cast<double>(bytes);
}

BENCHMARK(BM_Parse)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseAndFree)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseIndent1)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Canonical)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Serialize)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SerializeIndent1)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NlohmannParse)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NlohmannParseAndFree)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NlohmannParseIndent1)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NlohmannDump)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mdu::json

BENCHMARK_MAIN();
