// Includes QCustomPlot under the project's QT_NO_KEYWORDS: qcustomplot.h declares its signals
// with the `signals:` keyword and iterates with `foreach`, so map the keywords to their macros for
// that header only.
#pragma once
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
