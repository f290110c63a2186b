#include "tokenizer_detect.h"

#include <QDir>
#include <QFileInfo>

TokenizerGuess detectTokenizer(const rwkv::ModelInfo& model) {
  if (model.dims.n_vocab == 256) return {"bytes", "auto: bytes (the model has 256 tokens)"};
  const QDir dir = QFileInfo(QString::fromStdString(model.path)).absoluteDir();
  const QStringList found = dir.entryList({"*.model", "rwkv_vocab*.txt"}, QDir::Files, QDir::Name);
  if (found.size() == 1) {
    const QString path = dir.filePath(found.first());
    return {path, "auto: " + found.first() + " (next to the model)"};
  }
  const QString why = found.isEmpty() ? "no *.model or rwkv_vocab*.txt next to the model"
                                      : "several tokenizers next to the model (" + found.join(", ") + ")";
  return {"", QString("auto: none found (%1; the model has %2 tokens): choose a tokenizer file")
                  .arg(why)
                  .arg(model.dims.n_vocab)};
}
