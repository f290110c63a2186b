// RWKV-PEFT .pth layout (spec/rwkv7.md 5.1): what Python's torch.save writes for a dict
// {"blocks.{l}.att.time_state": [H,N,N] tensor} ([value][key], no transpose), readable by
// torch.load with its default weights_only=True.
//
// torch::pickle_save cannot be used: it tags the dict with torch.jit._pickle.restore_type_tag,
// a global that weights_only loading refuses. So the pickle is made by LibTorch's Pickler with
// tag_aggregates off (plain dict, tensors as torch._utils._rebuild_tensor_v2 with storages as
// persistent ids, as torch.save does) and packed with PyTorchStreamWriter into the zip layout
// torch.save uses (data.pkl, byteorder, data/<storage>, version).
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "rwkv/error.h"
#include "state_file_formats.h"

namespace rwkv {

std::string encode_state_peft(const InitialState& s0, bool bf16, const std::string& path) {
  c10::Dict<std::string, at::Tensor> dict;  // keeps insertion order: layers 0..L-1
  for (int l = 0; l < s0.n_layer; ++l) {
    torch::Tensor t = state_layer(s0, l).clone();  // [H,N,N] fp32, owns its memory
    if (bf16) {
      t = t.to(torch::kBFloat16);
      if (!torch::isfinite(t).all().item<bool>())
        throw Error(ErrorKind::NonFinite, path + ": not saved: " + state_key(l) + " overflows bf16");
    }
    dict.insert(state_key(l), t);
  }

  std::string pickle;
  std::vector<at::Tensor> storages;  // in the order the pickle names them "0", "1", ...
  try {
    torch::jit::Pickler pickler([&](const char* p, size_t n) { pickle.append(p, n); }, nullptr, nullptr, nullptr,
                                [&](const at::Tensor& t) {
                                  storages.push_back(t);
                                  return std::to_string(storages.size() - 1);
                                },
                                /*tag_aggregates=*/false);
    pickler.protocol();
    pickler.pushIValue(dict);
    pickler.stop();

    std::string zip;
    caffe2::serialize::PyTorchStreamWriter writer([&](const void* p, size_t n) {
      zip.append(static_cast<const char*>(p), n);
      return n;
    });
    writer.writeRecord("data.pkl", pickle.data(), pickle.size());
    writer.writeRecord("byteorder", "little", 6);
    for (size_t i = 0; i < storages.size(); ++i) {
      const at::Tensor c = storages[i].contiguous();
      writer.writeRecord("data/" + std::to_string(i), c.data_ptr(), c.nbytes());
    }
    writer.writeEndOfFile();
    return zip;
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::Format, path + ": cannot encode the .pth: " + e.what_without_backtrace());
  }
}

StateFile decode_state_peft(const std::string& path) {
  StateFile out;
  out.format = StateFormat::PeftPth;
  out.s0 = state_from_tensors(read_pth(path), path, /*transposed=*/false, &out.stored_dtype);
  return out;
}

}  // namespace rwkv
