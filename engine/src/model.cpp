// Model::load: read the checkpoint (format sniffed from its bytes), validate and place the
// weights, fingerprint the file.
#include <new>

#include "cpu_threads.h"
#include "rwkv/error.h"
#include "rwkv/model.h"
#include "weights.h"

namespace rwkv {

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

const ModelInfo& Model::info() const { return impl_->info; }

std::shared_ptr<const Model> Model::load(const std::string& path, const LoadOptions& opt) {
  try {
    std::string format;
    TensorMap tensors = read_checkpoint(path, &format);
    std::unique_ptr<Impl> impl = build_weights(std::move(tensors), path, opt);
    impl->info.format = format;
    impl->info.sha256 = sha256_file(path);
    if (impl->device.is_cpu()) configure_cpu_threads(impl->info.dims);
    return std::shared_ptr<const Model>(new Model(std::move(impl)));
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::Io, path + ": out of memory while loading the model");
  } catch (const c10::Error& e) {  // e.g. an allocation failure inside torch
    throw Error(ErrorKind::Io, path + ": cannot load the model: " + e.what_without_backtrace());
  }
}

}  // namespace rwkv
