// Where the studio finds its demo: beside an installed binary (<prefix>/bin/rwkv-studio ->
// <prefix>/share/rwkv-studio/{models,tasks}, so a relocated install works), else in the source
// tree it was built from (resources/).
#pragma once
#include <QString>

// A file of the demo by its path under resources/ ("models/demo-small.safetensors",
// "tasks/format_train.jsonl"); "" if absent.
QString demoFile(const QString& rel);
