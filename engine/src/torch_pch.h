// Precompiled for the engine's translation units (see CMakeLists.txt).
#pragma once
#include <torch/torch.h>
